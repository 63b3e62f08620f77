// smartvm-run's command line (docs/smartvm-run.8; DESIGN.md, "The launcher contract").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::launcher {

struct RunOptions {
  std::string service;    // --service NAME
  std::string appliance;  // --appliance FILE: a one-off job, not from the catalog
  std::optional<unsigned> cores;
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> time_seconds;
  std::string job_id;
  std::vector<std::string> inputs;  // --input FILE, onto the context ISO
  std::string catalog = "/etc/smartvm/services.d";
  std::string libvirt_uri;  // --libvirt-uri or --connect; "" = nodeld's ([node] libvirt_uri), else qemu:///system
  std::string runtime_dir = "/run/smartvm/jobs";  // the jobs' directories (overlay, ISO, sockets)
  bool check = false;       // --check: validate the catalog, print problems, exit
  bool dry_run = false;     // --dry-run: print the appliance.ini and domain XML, create nothing
  std::vector<std::string> args;  // after "--": the job's own arguments
};

struct ParsedRunOptions {
  enum class Action { run, help, version, usage_error } action = Action::run;
  RunOptions options;
  std::string error;
};

ParsedRunOptions parse_run_options(const std::vector<std::string>& args);
const char* run_usage_text();

// Whether `id` can be a job id: letters, digits, '-', '_', '.', 1 to 64, not starting with '.'
// or '-' (it names the domain and the job's files).
bool valid_job_id(const std::string& id);

}  // namespace smartvm::launcher
