// A deadline kept outside the agent's main thread. The main thread may block where no
// timeout of its own reaches it: a hard NFS mount whose server stopped answering holds any
// write, fsync or sync in the kernel (state D, deaf even to SIGKILL), and the job's event
// loop with it. The watchdog's thread touches no filesystem; when a deadline passes unmet it
// calls `expired`, which carries out the power action over D-Bus: the VM ends whatever the
// repository does.
#pragma once

#include "job_spec.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace smartvm::agent {

class Watchdog {
 public:
  // Called on the watchdog's thread with the action armed, the limit that passed and the
  // last step the agent reported.
  using Expired = std::function<void(PowerAction action, std::chrono::seconds limit, const std::string& step)>;

  explicit Watchdog(Expired expired);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `limit` from now; 0 disarms. Each call replaces the previous deadline.
  void arm(std::chrono::seconds limit, PowerAction action);
  void step(const std::string& step);

 private:
  void loop();

  Expired expired_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::chrono::seconds limit_{0};
  PowerAction action_ = PowerAction::poweroff;
  std::string step_;
  bool quit_ = false;
  std::thread thread_;  // last: started once the rest is initialised
};

}  // namespace smartvm::agent
