// The agent's command line (DESIGN.md, "The agent contract").
#pragma once

#include "job_spec.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::agent {

struct Options {
  std::string context;  // device, ISO image or directory; "" = find by label
  std::string label = "CONTEXT";
  std::optional<PowerAction> power;  // overrides [power] action
  std::chrono::seconds context_wait{60};
  bool dry_run = false;
  bool verbose = false;
};

struct ParsedOptions {
  enum class Action { run, help, version, usage_error } action = Action::run;
  Options options;
  std::string error;  // for usage_error
};

ParsedOptions parse_options(const std::vector<std::string>& args);
const char* usage_text();

}  // namespace smartvm::agent
