// A private dbus-daemon for one test, stopped by its recorded PID when the test ends, and a
// service on it that stands in for logind or systemd's manager and records the calls it gets.
#pragma once

#include "temp_dir.hpp"

#include <sys/types.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace smartvm::test {

class PrivateBus {
 public:
  PrivateBus();
  ~PrivateBus();
  const std::string& address() const { return address_; }

 private:
  TempDir dir_;
  std::string address_;
  pid_t pid_ = -1;
};

// Serves org.freedesktop.login1 (PowerOff/Reboot/Halt) or org.freedesktop.systemd1
// (StartUnit) on the bus at `address` from a thread of its own, and records each call as
// "Method(args)".
class FakePowerService {
 public:
  enum class Kind { logind, systemd };
  FakePowerService(const std::string& address, Kind kind);
  ~FakePowerService();

  std::vector<std::string> calls() const;
  void record(std::string call);

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> calls_;
  std::thread thread_;
};

}  // namespace smartvm::test
