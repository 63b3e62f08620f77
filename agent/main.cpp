// smartvm-agent: runs the job of this VM's context. See smartvm-agent(8).
#include "job_unit.hpp"
#include "lifecycle.hpp"
#include "linux_system.hpp"
#include "log.hpp"
#include "smartvm_version.hpp"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

int main(int argc, char** argv) {
  using namespace smartvm;
  using namespace smartvm::agent;
  log::init("smartvm-agent");

  ParsedOptions parsed = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  switch (parsed.action) {
    case ParsedOptions::Action::help: std::fputs(usage_text(), stdout); return 0;
    case ParsedOptions::Action::version: std::printf("smartvm-agent %s\n", kVersion); return 0;
    case ParsedOptions::Action::usage_error:
      std::fprintf(stderr, "smartvm-agent: %s\nTry 'smartvm-agent --help'.\n", parsed.error.c_str());
      return 2;
    case ParsedOptions::Action::run: break;
  }
  if (parsed.options.verbose) log::set_max_level(log::Level::debug);

  // A stop request (the VM shutting down) is taken synchronously during setup and by the
  // job runner's event loop while the job runs; blocking both signals makes none get lost.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  LinuxSystemSettings settings;
  settings.context_wait = parsed.options.context_wait;
  if (const char* rd = std::getenv("RUNTIME_DIRECTORY"); rd && *rd) settings.runtime_dir = rd;
  // SMARTVM_STATUS_PORT: where to send the record instead of the virtio port (tests; smartvm-agent(8)).
  if (const char* port = std::getenv("SMARTVM_STATUS_PORT"); port && *port) settings.status_port = port;
  // Run by systemd, the job is a unit of its own, free of the agent's service restrictions.
  // SMARTVM_CONTAINMENT forces a containment: "cgroup" (the agent's child in a cgroup of its
  // own) or "subreaper" (no cgroup): for tests and for guests whose systemd or cgroup setup
  // misbehaves. Documented in smartvm-agent(8).
  std::string_view containment = std::getenv("SMARTVM_CONTAINMENT") ? std::getenv("SMARTVM_CONTAINMENT") : "";
  settings.runner.systemd_unit = containment.empty() && JobUnit::available();
  if (settings.runner.systemd_unit) settings.runner.own_unit = JobUnit::own_unit();
  settings.runner.use_cgroup = containment != "subreaper";
  LinuxSystem system(settings);
  AgentResult result = run_agent(parsed.options, system);
  std::fputs(result.plan.c_str(), stdout);
  return result.exit_code;
}
