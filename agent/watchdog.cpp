#include "watchdog.hpp"

#include <signal.h>

namespace smartvm::agent {

Watchdog::Watchdog(Expired expired) : expired_(std::move(expired)) {
  // With every signal blocked: SIGTERM and SIGINT are the main thread's to take (sigtimedwait
  // during setup, the event loop while the job runs).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  wake_.notify_one();
  // A thread still inside `expired` (a D-Bus call) is waited for: it is bounded by the bus's
  // own call timeout.
  thread_.join();
}

void Watchdog::arm(std::chrono::seconds limit, PowerAction action) {
  {
    std::lock_guard lock(mutex_);
    deadline_.reset();
    if (limit.count() > 0) deadline_ = std::chrono::steady_clock::now() + limit;
    limit_ = limit;
    action_ = action;
  }
  wake_.notify_one();
}

void Watchdog::step(const std::string& step) {
  std::lock_guard lock(mutex_);
  step_ = step;
}

void Watchdog::loop() {
  std::unique_lock lock(mutex_);
  while (!quit_) {
    if (!deadline_) {
      wake_.wait(lock);
      continue;
    }
    if (wake_.wait_until(lock, *deadline_) != std::cv_status::timeout) continue;
    if (!deadline_ || std::chrono::steady_clock::now() < *deadline_) continue;
    deadline_.reset();
    PowerAction action = action_;
    std::chrono::seconds limit = limit_;
    std::string step = step_;
    lock.unlock();
    expired_(action, limit, step);
    lock.lock();
  }
}

}  // namespace smartvm::agent
