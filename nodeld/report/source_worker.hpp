// A thread of its own for one source of a report, so that a source that hangs (a libvirtd
// that stops answering, a wedged sysfs read) holds up only itself: the main loop hands it a
// job, goes on, and gets the answer posted back when it comes.
#pragma once

#include "error.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace smartvm::nodeld {

// `fn()`, with an exception it throws (a library's, std::filesystem's) turned into an error
// result, so that a source's failure is reported as the source's error, never as the end of
// nodeld.
template <typename Fn>
auto guarded(const std::string& what, Fn& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return make_error(what + ": unexpected failure: " + e.what());
  } catch (...) {
    return make_error(what + ": unexpected failure");
  }
}

class SourceWorker {
 public:
  SourceWorker() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  // Waits for a running job to end: a job must not block forever (libvirt's keepalive ends a
  // call to a dead libvirtd). nodeld exits without this wait when a job is stuck (see busy()).
  ~SourceWorker() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  SourceWorker(const SourceWorker&) = delete;
  SourceWorker& operator=(const SourceWorker&) = delete;

  // Runs `work` on the worker thread; `work` returns the answer, a callable that is posted to
  // `answer_to` once the worker is free again, so that whoever handles the answer may hand
  // the worker its next job at once. Returns false, doing nothing, while the previous job
  // still runs.
  template <typename Work>
  bool run(boost::asio::io_context& answer_to, Work work) {
    if (busy_.exchange(true)) return false;
    started_ = std::chrono::steady_clock::now();
    boost::asio::post(io_, [this, &answer_to, work = std::move(work)]() mutable {
      // The last line of defence: an exception leaving a job would end the thread and with it
      // nodeld (std::terminate). Jobs turn failures into error results themselves (guarded()
      // below); one that throws anyway gives no answer, and its caller's deadline says so.
      try {
        auto answer = work();
        busy_ = false;
        boost::asio::post(answer_to, std::move(answer));
      } catch (...) {
        busy_ = false;
      }
    });
    return true;
  }
  bool busy() const { return busy_; }
  // When the running job started (meaningful while busy()).
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::atomic<bool> busy_{false};
  std::chrono::steady_clock::time_point started_{};
  std::thread thread_;
};

}  // namespace smartvm::nodeld
