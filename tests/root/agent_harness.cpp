#include "agent_harness.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace smartvm::test {

std::string agent_path() { return SMARTVM_AGENT_PATH; }
bool running_as_root() { return geteuid() == 0; }

AgentScenario::AgentScenario() {
  std::filesystem::create_directories(repo());
  std::filesystem::create_directories(mountpoint());
  std::filesystem::create_directories(context());
  chmod(tmp_.path().c_str(), 0755);
  chmod(repo().c_str(), 01777);
}

void AgentScenario::write_job(const std::string& job_sections, const std::string& repository_extra) {
  write_file(context() / "appliance.ini", job_sections + "\n[repository]\ntype = bind\nsource = " + repo().string() +
                                              "\nmountpoint = " + mountpoint().string() + "\n" + repository_extra);
}

// --kill-child: a test that overruns kills unshare by its PID; the namespace's init (and so
// everything in it) goes with it instead of running on.

namespace {

// The agent in these tests lives in a private mount namespace: a job started by the host's
// systemd (when the tests themselves run under a systemd service) would not see its mounts.
void contain_as_child(ProcessOptions& opts) {
  for (const std::string& e : opts.env)
    if (e.rfind("SMARTVM_CONTAINMENT=", 0) == 0) return;
  opts.env.push_back("SMARTVM_CONTAINMENT=cgroup");
}

}  // namespace

ProcessResult AgentScenario::run(std::vector<std::string> extra_args, ProcessOptions opts) const {
  std::vector<std::string> argv{"/usr/bin/unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                                "--propagation", "private", agent_path()};
  bool has_power = false, by_label = false;
  for (const auto& a : extra_args) {
    has_power |= a.rfind("--power", 0) == 0;
    by_label |= a == "--label";
  }
  if (!by_label) argv.insert(argv.end(), {"--context", context().string()});
  if (!has_power) argv.insert(argv.end(), {"--power", "none"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  opts.env.push_back("RUNTIME_DIRECTORY=" + (tmp_ / "run").string());
  contain_as_child(opts);
  return run_process(argv, opts);
}

ProcessResult AgentScenario::run_shell(const std::string& shell, ProcessOptions opts) const {
  opts.env.push_back("AGENT=" + agent_path());
  opts.env.push_back("T=" + tmp_.path().string());
  opts.env.push_back("RUNTIME_DIRECTORY=" + (tmp_ / "run").string());
  contain_as_child(opts);
  return run_process({"/usr/bin/unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
                      "/bin/sh", "-c", shell},
                     opts);
}

std::optional<StatusRecord> AgentScenario::status(const std::string& rel) const {
  std::string text = read_file(repo() / rel);
  if (text.empty()) return std::nullopt;
  auto r = parse_status(text);
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace smartvm::test
