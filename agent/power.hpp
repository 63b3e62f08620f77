// Powering the VM off (or rebooting or halting it) the way the guest expects: through logind,
// else through systemd's manager (both over sd-bus, on the system bus), and when there is no
// bus (a SysV image, an initramfs) by syncing and calling reboot(2) directly.
#pragma once

#include "error.hpp"
#include "event_sink.hpp"
#include "job_spec.hpp"

#include <chrono>
#include <string>

namespace smartvm::agent {

struct PowerOutcome {
  std::string via;  // "logind", "systemd" or "reboot(2)"
};

// Whether this machine reports a hypervisor (CPUID leaf 1, ECX bit 31), as every VM does.
bool running_in_vm();

// Returns once the request is accepted (the bus paths) or with an error when every path failed;
// the reboot(2) path does not return on success. `delay` is waited first. The paths tried are
// told to `events` as they are (the last may not return).
Result<PowerOutcome> request_power_action(PowerAction action, std::chrono::seconds delay, const EventSink& events = {});

}  // namespace smartvm::agent
