// What a job's context asks for, validated. One code path turns appliance.ini (or an
// OpenNebula context.sh) into a JobSpec for the agent and for smartvm-context; nothing here
// touches the system, so it is fully unit-tested. Checks that need the guest (does the user
// exist, is the path a symlink out of the repository) come later, in the agent.
#pragma once

#include "diagnostic.hpp"
#include "ini_document.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace smartvm {

enum class RepositoryType { nfs, ninep, virtiofs, bind, none };
enum class PowerAction { none, poweroff, reboot, halt };

const char* to_string(RepositoryType t);
const char* to_string(PowerAction a);
std::optional<PowerAction> power_action_from_string(std::string_view s);

struct RepositorySpec {
  RepositoryType type = RepositoryType::nfs;
  std::string source;
  std::string mountpoint = "/mnt/adr";
  std::string options;
  unsigned attempts = 10;
  std::chrono::seconds retry_delay{2};
};

struct JobSpec {
  // The program: absolute (in the guest image), or `command_in_repository` and relative to
  // the repository root, normalized.
  std::string command;
  bool command_in_repository = false;
  std::vector<std::string> args;
  std::string workdir;  // relative to the repository root, normalized; "" is the root itself
  std::string user;
  std::string group;  // "" = the user's primary group
  bool allow_root = false;
  unsigned umask = 0022;
  std::chrono::seconds timeout{0};  // 0 = none
  std::chrono::seconds kill_grace{30};
  std::string stdout_path = "stdout.log";  // relative to the repository root, normalized
  std::string stderr_path = "stderr.log";
  uint64_t output_limit = 0;  // bytes per stream; 0 = unlimited
  std::vector<std::pair<std::string, std::string>> env;

  RepositorySpec repository;

  std::string status_path = "exit_status";  // relative to the repository root, normalized
  std::chrono::seconds heartbeat{10};       // 0 = none

  PowerAction power = PowerAction::poweroff;
  std::chrono::seconds power_delay{0};
};

struct LoadedJobSpec {
  JobSpec spec;  // filled as far as the input allows, even with errors: the power action
                 // of a broken context is still needed
  Diagnostics diagnostics;
  bool ok() const { return !has_errors(diagnostics); }
};

LoadedJobSpec load_job_spec(const IniDocument& doc);

}  // namespace smartvm
