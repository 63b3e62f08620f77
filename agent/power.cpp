#include "power.hpp"


#include "systemd_lazy.hpp"

#include <cpuid.h>
#include <sys/reboot.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <thread>

namespace smartvm::agent {
namespace {

struct BusDeleter {
  void operator()(sd_bus* b) const {
    if (b) systemd::api()->bus_flush_close_unref(b);
  }
};
using BusPtr = std::unique_ptr<sd_bus, BusDeleter>;

// sync(2) before a reboot(2) that nothing else will precede with one, waited for a bounded
// time: a hard NFS mount whose server went away would hold it (and the VM) forever.
constexpr std::chrono::seconds kSyncLimit{10};

void sync_within(std::chrono::seconds limit, const EventSink& events) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> synced = done->get_future();
  std::thread([done] {
    sync();
    done->set_value();
  }).detach();
  if (synced.wait_for(limit) != std::future_status::ready)
    tell(events, log::Level::warning, "sync(2) did not end within " + std::to_string(limit.count()) + " s; going on without it");
}

}  // namespace

bool running_in_vm() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 31));
}

Result<PowerOutcome> request_power_action(PowerAction action, std::chrono::seconds delay, const EventSink& events) {
  if (action == PowerAction::none) return PowerOutcome{"none"};
  // The agent belongs in job VMs. Run by hand on a compute node or a workstation, it must not
  // power that machine off because someone forgot --power none.
  if (!running_in_vm() && !std::getenv("SMARTVM_POWER_ANYWHERE"))
    return make_error(std::string("not carrying out the power action ") + to_string(action) +
                      ": this machine reports no hypervisor (run with --power none by hand; "
                      "SMARTVM_POWER_ANYWHERE=1 overrides)");
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  // No sync(2) before the bus paths: logind and systemd shut down in order, unmounting (and
  // so syncing) every filesystem; the agent synced the repository before unmounting it.

  const char* logind_method = action == PowerAction::poweroff ? "PowerOff" : action == PowerAction::reboot ? "Reboot" : "Halt";
  const char* target = action == PowerAction::poweroff ? "poweroff.target" : action == PowerAction::reboot ? "reboot.target" : "halt.target";
  std::string why;

  tell(events, log::Level::info, std::string("asking the system to ") + to_string(action) + " (logind, else systemd, else reboot(2))");
  const systemd::Api* sd = systemd::api();
  sd_bus* raw = nullptr;
  int r = sd ? sd->bus_open_system(&raw) : -ENOENT;
  BusPtr bus(raw);
  if (!sd) {
    why = "libsystemd.so.0 is not installed";
  } else if (r >= 0) {
    auto via_logind = systemd::call_method(*sd, bus.get(), "org.freedesktop.login1", "/org/freedesktop/login1",
                           "org.freedesktop.login1.Manager", logind_method, "b", 0);
    if (via_logind) return PowerOutcome{"logind"};
    auto via_systemd = systemd::call_method(*sd, bus.get(), "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                            "org.freedesktop.systemd1.Manager", "StartUnit", "ss", target, "replace-irreversibly");
    if (via_systemd) return PowerOutcome{"systemd"};
    why = via_logind.error().message + "; " + via_systemd.error().message;
  } else {
    why = std::string("no system bus: ") + strerror(-r);
  }
  tell(events, log::Level::notice, "power action through D-Bus impossible (" + why + "); calling reboot(2)");
  sync_within(kSyncLimit, events);
  int cmd = action == PowerAction::poweroff ? RB_POWER_OFF : action == PowerAction::reboot ? RB_AUTOBOOT : RB_HALT_SYSTEM;
  reboot(cmd);
  return os_error(std::string("power action ") + to_string(action) + " failed (" + why + "); reboot(2)");
}

}  // namespace smartvm::agent
