// libsystemd, loaded on first use. The agent needs it only under systemd (sd_notify) and for
// powering off over D-Bus, yet linking it directly loads it and eight more
// libraries (libgcrypt, liblzma, libzstd, ...) into every start of the agent, which costs
// milliseconds at every VM boot (bench/README.md). Like systemd's own optional dependencies,
// it is dlopen()ed when a call needs it; without it those calls report that it is missing.
#pragma once

#include "error.hpp"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#include <cstring>
#include <string>

namespace smartvm::systemd {

struct Api {
  decltype(&::sd_notify) notify;
  decltype(&::sd_bus_open_system) bus_open_system;
  decltype(&::sd_bus_call_method) bus_call_method;
  decltype(&::sd_bus_error_free) bus_error_free;
  decltype(&::sd_bus_flush_close_unref) bus_flush_close_unref;
  // For running the job as a transient service of systemd's (agent/job_unit.hpp).
  decltype(&::sd_bus_new) bus_new;
  decltype(&::sd_bus_set_address) bus_set_address;
  decltype(&::sd_bus_start) bus_start;
  decltype(&::sd_bus_get_fd) bus_get_fd;
  decltype(&::sd_bus_process) bus_process;
  decltype(&::sd_bus_wait) bus_wait;
  decltype(&::sd_bus_match_signal) bus_match_signal;
  decltype(&::sd_bus_slot_unref) bus_slot_unref;
  decltype(&::sd_bus_message_new_method_call) bus_message_new_method_call;
  decltype(&::sd_bus_message_append) bus_message_append;
  decltype(&::sd_bus_message_open_container) bus_message_open_container;
  decltype(&::sd_bus_message_close_container) bus_message_close_container;
  decltype(&::sd_bus_message_read) bus_message_read;
  decltype(&::sd_bus_message_unref) bus_message_unref;
  decltype(&::sd_bus_call) bus_call;
  decltype(&::sd_bus_get_property_string) bus_get_property_string;
  decltype(&::sd_bus_get_property_trivial) bus_get_property_trivial;
  decltype(&::sd_bus_path_encode) bus_path_encode;
  decltype(&::sd_pid_get_unit) pid_get_unit;
  decltype(&::sd_pid_get_user_unit) pid_get_user_unit;
};

// The functions, or nullptr when libsystemd.so.0 cannot be loaded.
const Api* api();

// A connection to systemd itself (PID 1): its private socket, as systemctl uses it as root,
// which works while dbus-daemon is not (yet, or any more) running; else the system bus.
// nullptr when neither answers.
sd_bus* open_manager_bus(const Api& sd);

// A method call whose reply the caller does not need. The error names the method
// ("org.freedesktop.systemd1.KillUnit: ...") and says what the peer answered, else errno.
template <typename... A>
Result<void> call_method(const Api& sd, sd_bus* bus, const char* service, const char* path, const char* iface,
                         const char* method, const char* types, A... args) {
  sd_bus_error err = SD_BUS_ERROR_NULL;
  int r = sd.bus_call_method(bus, service, path, iface, method, &err, nullptr, types, args...);
  Result<void> out;
  if (r < 0)
    out = Error{std::string(service) + "." + method + ": " + (err.message ? err.message : std::strerror(-r)),
                std::error_code(-r, std::generic_category())};
  sd.bus_error_free(&err);
  return out;
}

}  // namespace smartvm::systemd
