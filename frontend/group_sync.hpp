// Reports are acknowledged only once they are on disk, with one flush for all that arrived
// together (group commit). SQLite commits each report to its write-ahead log without a flush
// (synchronous=NORMAL); a thread of this class's own then flushes the log (fdatasync) while the
// event loop goes on serving, and every answer that waited for a commit made before that flush
// began is sent when it ends. So the event loop never waits for the disk, a report acknowledged
// survives a power cut, and under load one flush covers many reports.
#pragma once

#include "error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace smartvm::frontend {

class GroupSync {
 public:
  using Done = std::function<void(Result<void>)>;
  // `log_path`: the file to flush (the database's -wal); opened at the first flush.
  GroupSync(boost::asio::io_context& io, std::string log_path);
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // Calls `done` on the io_context's thread once everything written before this call is on
  // disk (or with the flush's error).
  void after_flush(Done done);
  // Flushes finished so far.
  uint64_t flushes() const { return flushes_; }

 private:
  void start();

  boost::asio::io_context& io_;
  std::string path_;
  int fd_ = -1;
  std::vector<Done> waiting_;  // for the next flush
  bool in_flight_ = false;
  uint64_t flushes_ = 0;
  boost::asio::thread_pool flusher_{1};  // last: joined first, while the rest is still there
};

}  // namespace smartvm::frontend
