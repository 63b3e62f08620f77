// libsystemd, loaded on first use. The agent needs it only under systemd (sd_notify) and for
// powering off over D-Bus, yet linking it directly loads it and eight more
// libraries (libgcrypt, liblzma, libzstd, ...) into every start of the agent, which costs
// milliseconds at every VM boot (bench/README.md). Like systemd's own optional dependencies,
// it is dlopen()ed when a call needs it; without it those calls report that it is missing.
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

namespace smartvm::systemd {

struct Api {
  decltype(&::sd_notify) notify;
  decltype(&::sd_bus_open_system) bus_open_system;
  decltype(&::sd_bus_call_method) bus_call_method;
  decltype(&::sd_bus_error_free) bus_error_free;
  decltype(&::sd_bus_flush_close_unref) bus_flush_close_unref;
};

// The functions, or nullptr when libsystemd.so.0 cannot be loaded.
const Api* api();

}  // namespace smartvm::systemd
