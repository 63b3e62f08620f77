// smartvm-agent: runs the job of this VM's context. See smartvm-agent(8).
#include "job_unit.hpp"
#include "lifecycle.hpp"
#include "linux_system.hpp"
#include "log.hpp"
#include "parse_number.hpp"
#include "power.hpp"
#include "smartvm_version.hpp"
#include "stop_signals.hpp"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

namespace {

using namespace smartvm;
using namespace smartvm::agent;

// SMARTVM_LIMITS="setup=900,mount_attempt=60,wrap_up=300,watchdog_margin=120" (seconds, any
// subset): for tests and for guests whose network is known to be slow; smartvm-agent(8).
Result<Limits> limits_from(const char* text) {
  Limits l;
  if (!text) return l;
  std::string_view rest(text);
  while (!rest.empty()) {
    std::string_view item = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), item.size() + 1));
    std::string_view name = item.substr(0, item.find('='));
    std::string_view value = item.substr(std::min(item.size(), name.size() + 1));
    std::optional<long> secs = parse_integer<long>(value);
    std::chrono::seconds* field = name == "setup" ? &l.setup : name == "mount_attempt" ? &l.mount_attempt
                                : name == "wrap_up" ? &l.wrap_up : name == "watchdog_margin" ? &l.watchdog_margin : nullptr;
    if (!field || !secs || *secs <= 0)
      return make_error("SMARTVM_LIMITS: \"" + std::string(item) +
                        "\" is not NAME=SECONDS with NAME setup, mount_attempt, wrap_up or watchdog_margin");
    *field = std::chrono::seconds(*secs);
  }
  return l;
}

int run(const Options& options) {
  auto limits = limits_from(std::getenv("SMARTVM_LIMITS"));
  if (!limits) {
    std::fprintf(stderr, "smartvm-agent: %s\n", limits.error().message.c_str());
    return 2;
  }

  // A stop request (the VM shutting down) is taken synchronously during setup and by the
  // job runner's event loop while the job runs; blocking both signals makes none get lost.
  sigset_t stop = stop_signals();
  sigprocmask(SIG_BLOCK, &stop, nullptr);

  LinuxSystemSettings settings;
  settings.context_wait = options.context_wait;
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
  // What the agent's parts tell is said here, at the top: they do not log themselves.
  settings.events = [](log::Level level, const std::string& message) { log::write(level, message); };
  settings.runner.events = settings.events;
  log::Condition heartbeat("the heartbeat file", log::Level::warning);
  settings.runner.heartbeat_outcome = [&heartbeat](const std::string& problem) { heartbeat.update(problem); };
  LinuxSystem system(settings);
  AgentResult result = run_agent(options, system, *limits);
  std::fputs(result.plan.c_str(), stdout);
  return result.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
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
  // Past the lifecycle's own catch (setting up, the power action itself) the VM must still
  // end. Exit status 70 (EX_SOFTWARE) also makes the unit fail, and its FailureAction powers
  // off should this attempt not.
  try {
    return run(parsed.options);
  } catch (const std::exception& e) {
    log::error(std::string("internal error: ") + e.what());
  } catch (...) {
    log::error("internal error");
  }
  PowerAction action = parsed.options.power.value_or(PowerAction::poweroff);
  if (!parsed.options.dry_run && !stop_pending() && action != PowerAction::none)
    if (auto r = request_power_action(action, std::chrono::seconds(0), log::write); !r) log::error(r.error().message);
  return 70;
}
