// nodeld's control object on the system bus: org.smartvm.Nodeld1 at /org/smartvm/Nodeld1 with
// GetReport() -> s (the newest report's JSON) and Reload() (as SIGHUP). Only root may call
// them: the sender's effective UID is checked with the bus's credentials for every call, on
// top of the bus policy (initscripts/org.smartvm.Nodeld1.conf). The bus connection's fd is
// watched by the Asio loop, so the daemon stays single-threaded.
#pragma once

#include "error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>

struct sd_bus;
struct sd_bus_slot;

namespace smartvm::nodeld {

inline constexpr const char* kBusName = "org.smartvm.Nodeld1";
inline constexpr const char* kBusPath = "/org/smartvm/Nodeld1";

class ControlBus {
 public:
  struct Handlers {
    std::function<std::string()> get_report;
    std::function<Result<void>()> reload;  // an error is returned to the caller as a D-Bus error
  };

  ControlBus(boost::asio::io_context& io, Handlers handlers);
  ~ControlBus();
  ControlBus(const ControlBus&) = delete;
  ControlBus& operator=(const ControlBus&) = delete;

  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the standard socket), exports
  // the object and takes the name.
  Result<void> start();

  // For the vtable's C callbacks.
  int on_get_report(void* message);
  int on_reload(void* message);

 private:
  void process();
  void rearm();
  bool caller_is_root(void* message);

  Handlers handlers_;
  sd_bus* bus_ = nullptr;
  sd_bus_slot* slot_ = nullptr;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer timer_;
  bool read_waiting_ = false, write_waiting_ = false;
};

}  // namespace smartvm::nodeld
