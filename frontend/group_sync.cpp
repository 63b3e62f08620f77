#include "group_sync.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <fcntl.h>
#include <unistd.h>

namespace smartvm::frontend {

GroupSync::GroupSync(boost::asio::io_context& io, std::string log_path, Commit commit)
    : io_(io), path_(std::move(log_path)), commit_(std::move(commit)) {}

GroupSync::~GroupSync() {
  flusher_.join();
  if (fd_ >= 0) close(fd_);
}

void GroupSync::after_flush(Done done) {
  waiting_.push_back(std::move(done));
  if (!in_flight_) start();
}

void GroupSync::start() {
  // Everything the waiting answers wrote goes to the log in one commit, then one flush.
  if (commit_)
    if (auto c = commit_(); !c) {
      for (Done& d : std::exchange(waiting_, {})) d(c.error());
      return;
    }
  if (fd_ < 0) {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      Error e = os_error("open " + path_ + " to flush it");
      for (Done& d : std::exchange(waiting_, {})) d(e);
      return;
    }
  }
  in_flight_ = true;
  auto batch = std::make_shared<std::vector<Done>>(std::exchange(waiting_, {}));
  // The event loop has work while the flush runs: its answers are still to come.
  auto work = boost::asio::make_work_guard(io_);
  boost::asio::post(flusher_, [this, batch, fd = fd_, work = std::move(work)]() mutable {
    Result<void> flushed;
    if (fdatasync(fd) != 0) flushed = os_error("fdatasync " + path_);
    boost::asio::post(io_, [this, batch, flushed, work = std::move(work)] {
      in_flight_ = false;
      ++flushes_;
      for (Done& d : *batch) d(flushed);
      // What arrived during this flush waits for the next one: it may not be covered by this one.
      if (!waiting_.empty()) start();
    });
  });
}

}  // namespace smartvm::frontend
