#include "libvirt_support.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <thread>

namespace smartvm {

namespace {

void quiet(void*, virErrorPtr) {}

// Stopped at exit through a timer that wakes the loop, so that its thread sees it must end.
class EventLoop {
 public:
  static const EventLoop& instance() {
    static EventLoop loop;
    return loop;
  }
  const std::string& error() const { return error_; }

 private:
  EventLoop() {
    virSetErrorFunc(nullptr, quiet);
    if (virEventRegisterDefaultImpl() < 0) {
      error_ = libvirt_error("libvirt's event loop");
      return;
    }
    wake_ = virEventAddTimeout(-1, [](int, void*) {}, nullptr, nullptr);
    thread_ = std::thread([this] {
      while (!stop_) virEventRunDefaultImpl();
    });
  }
  ~EventLoop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    virEventUpdateTimeout(wake_, 0);
    thread_.join();
  }

  std::atomic<bool> stop_{false};
  int wake_ = -1;
  std::thread thread_;
  std::string error_;
};

}  // namespace

std::string libvirt_error(const std::string& what) {
  const char* m = virGetLastErrorMessage();
  return what + ": " + (m ? m : "unknown libvirt error");
}

Result<void> start_libvirt_event_loop() {
  const EventLoop& loop = EventLoop::instance();
  if (!loop.error().empty()) return make_error(loop.error());
  return {};
}

}  // namespace smartvm
