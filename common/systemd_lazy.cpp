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
    return ok ? &a : nullptr;
  }();
  return loaded;
}

}  // namespace smartvm::systemd
