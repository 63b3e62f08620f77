#include "control_bus.hpp"

#include "log.hpp"

#include <systemd/sd-bus.h>

#include <poll.h>

#include <cstring>

namespace smartvm::nodeld {

namespace {

int get_report_cb(sd_bus_message* m, void* userdata, sd_bus_error*) {
  return static_cast<ControlBus*>(userdata)->on_get_report(m);
}
int reload_cb(sd_bus_message* m, void* userdata, sd_bus_error*) {
  return static_cast<ControlBus*>(userdata)->on_reload(m);
}

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("GetReport", "", "s", get_report_cb, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Reload", "", "", reload_cb, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

}  // namespace

ControlBus::ControlBus(boost::asio::io_context& io, Handlers handlers)
    : handlers_(std::move(handlers)), fd_(io), timer_(io) {}

ControlBus::~ControlBus() {
  timer_.cancel();
  // The descriptor belongs to sd-bus: let go of it before sd-bus closes it.
  if (fd_.is_open()) {
    fd_.cancel();
    fd_.release();
  }
  if (slot_) sd_bus_slot_unref(slot_);
  if (bus_) sd_bus_flush_close_unref(bus_);
}

Result<void> ControlBus::start() {
  int r = sd_bus_open_system(&bus_);
  if (r < 0) return Error{"cannot connect to the system bus", std::error_code(-r, std::generic_category())};
  r = sd_bus_add_object_vtable(bus_, &slot_, kBusPath, kBusName, kVtable, this);
  if (r < 0) return Error{"cannot export " + std::string(kBusPath), std::error_code(-r, std::generic_category())};
  r = sd_bus_request_name(bus_, kBusName, 0);
  if (r < 0)
    return Error{std::string("cannot own ") + kBusName + " on the system bus (another nodeld, or the bus policy)",
                 std::error_code(-r, std::generic_category())};
  fd_.assign(sd_bus_get_fd(bus_));
  process();
  return {};
}

bool ControlBus::caller_is_root(void* message) {
  auto* m = static_cast<sd_bus_message*>(message);
  sd_bus_creds* creds = nullptr;
  // Asked of the bus daemon (not taken from the message), so the caller cannot forge it.
  int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
  uid_t euid = 1;
  bool ok = r >= 0 && sd_bus_creds_get_euid(creds, &euid) >= 0 && euid == 0;
  if (creds) sd_bus_creds_unref(creds);
  if (!ok) {
    const char* sender = sd_bus_message_get_sender(m);
    log::warning(std::string("refused ") + sd_bus_message_get_member(m) + " from " + (sender ? sender : "?") +
                 (r >= 0 ? " (uid " + std::to_string(euid) + ")" : "") + ": only root may call nodeld");
  }
  return ok;
}

int ControlBus::on_get_report(void* message) {
  auto* m = static_cast<sd_bus_message*>(message);
  if (!caller_is_root(m)) return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "only root may call nodeld");
  return sd_bus_reply_method_return(m, "s", handlers_.get_report().c_str());
}

int ControlBus::on_reload(void* message) {
  auto* m = static_cast<sd_bus_message*>(message);
  if (!caller_is_root(m)) return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_ACCESS_DENIED, "only root may call nodeld");
  auto r = handlers_.reload();
  if (!r) return sd_bus_reply_method_errorf(m, "org.smartvm.Nodeld1.Error.BadConfig", "%s", r.error().message.c_str());
  return sd_bus_reply_method_return(m, "");
}

void ControlBus::process() {
  for (;;) {
    int r = sd_bus_process(bus_, nullptr);
    if (r < 0) {
      log::error(std::string("system bus: ") + std::strerror(-r) + "; the control object is gone until restart");
      return;
    }
    if (r == 0) break;
  }
  rearm();
}

void ControlBus::rearm() {
  int events = sd_bus_get_events(bus_);
  if ((events & POLLIN) && !read_waiting_) {
    read_waiting_ = true;
    fd_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
      read_waiting_ = false;
      if (!ec) process();
    });
  }
  if ((events & POLLOUT) && !write_waiting_) {
    write_waiting_ = true;
    fd_.async_wait(boost::asio::posix::descriptor_base::wait_write, [this](const boost::system::error_code& ec) {
      write_waiting_ = false;
      if (!ec) process();
    });
  }
  uint64_t usec = 0;
  if (sd_bus_get_timeout(bus_, &usec) >= 0 && usec != UINT64_MAX) {
    // An absolute CLOCK_MONOTONIC time, which is steady_clock's on Linux.
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(usec)));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) process();
    });
  }
}

}  // namespace smartvm::nodeld
