// Reports are acknowledged only once they are on disk, with one commit and one flush for all
// that arrived together (group commit). The reports that arrive while a flush runs are held in
// one open transaction (NodeStore::hold_commits); when the flush ends, that transaction is
// committed to SQLite's write-ahead log without a flush (synchronous=NORMAL), and a thread of
// this class's own flushes the log (fdatasync) while the event loop goes on serving; every
// answer that waited for that commit is sent when the flush ends. So the event loop never waits
// for the disk, a report acknowledged survives a power cut, and under load one commit and one
// flush cover many reports.
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
  using Commit = std::function<Result<void>()>;
  // `log_path`: the file to flush (the database's -wal); opened at the first flush. `commit`:
  // called on the io_context's thread right before each flush, to commit the writes held in
  // an open transaction (NodeStore::hold_commits); when it fails, the writes it held are not
  // stored and every answer waiting for that flush gets its error.
  GroupSync(boost::asio::io_context& io, std::string log_path, Commit commit = {});
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
  Commit commit_;
  int fd_ = -1;
  std::vector<Done> waiting_;  // for the next flush
  bool in_flight_ = false;
  uint64_t flushes_ = 0;
  boost::asio::thread_pool flusher_{1};  // last: joined first, while the rest is still there
};

}  // namespace smartvm::frontend
