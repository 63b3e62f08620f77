#include "systemd_lazy.hpp"

#include <dlfcn.h>

#include <type_traits>

namespace smartvm::systemd {

const Api* api() {
  static const Api* loaded = []() -> const Api* {
    void* lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    static Api a;
    bool ok = true;
    auto get = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      ok = ok && fn;
    };
    get(a.notify, "sd_notify");
    get(a.bus_open_system, "sd_bus_open_system");
    get(a.bus_call_method, "sd_bus_call_method");
    get(a.bus_error_free, "sd_bus_error_free");
    get(a.bus_flush_close_unref, "sd_bus_flush_close_unref");
    get(a.bus_new, "sd_bus_new");
    get(a.bus_set_address, "sd_bus_set_address");
    get(a.bus_start, "sd_bus_start");
    get(a.bus_get_fd, "sd_bus_get_fd");
    get(a.bus_process, "sd_bus_process");
    get(a.bus_wait, "sd_bus_wait");
    get(a.bus_match_signal, "sd_bus_match_signal");
    get(a.bus_slot_unref, "sd_bus_slot_unref");
    get(a.bus_message_new_method_call, "sd_bus_message_new_method_call");
    get(a.bus_message_append, "sd_bus_message_append");
    get(a.bus_message_open_container, "sd_bus_message_open_container");
    get(a.bus_message_close_container, "sd_bus_message_close_container");
    get(a.bus_message_read, "sd_bus_message_read");
    get(a.bus_message_unref, "sd_bus_message_unref");
    get(a.bus_call, "sd_bus_call");
    get(a.bus_get_property_string, "sd_bus_get_property_string");
    get(a.bus_get_property_trivial, "sd_bus_get_property_trivial");
    get(a.bus_path_encode, "sd_bus_path_encode");
    get(a.pid_get_unit, "sd_pid_get_unit");
    get(a.pid_get_user_unit, "sd_pid_get_user_unit");
    return ok ? &a : nullptr;
  }();
  return loaded;
}

sd_bus* open_manager_bus(const Api& sd) {
  sd_bus* bus = nullptr;
  if (sd.bus_new(&bus) >= 0) {
    if (sd.bus_set_address(bus, "unix:path=/run/systemd/private") >= 0 && sd.bus_start(bus) >= 0) return bus;
    sd.bus_flush_close_unref(bus);
    bus = nullptr;
  }
  if (sd.bus_open_system(&bus) >= 0) return bus;
  return nullptr;
}

}  // namespace smartvm::systemd
