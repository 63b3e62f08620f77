// Copies one of the job's output pipes into its file in the repository. The agent sits in
// between so that it can cap the size (`output_limit`), keep going when the repository is
// full (the job must not block on a full pipe), and say what happened in the status record.
#pragma once

#include "unique_fd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace smartvm::agent {

class OutputPump {
 public:
  // Takes the read end of the pipe; writes to `file` (not owned) from offset 0.
  OutputPump(boost::asio::io_context& io, UniqueFd pipe_read_end, int file, uint64_t limit, std::string name);

  void start(std::function<void()> on_eof);
  // For when every writer of the job is gone but a copy of the pipe's write end lives on
  // elsewhere (systemd keeps the descriptors a transient unit was given): ends the pump once
  // the pipe is empty instead of at an EOF that would not come. False while data is left.
  bool close_if_drained();
  bool eof() const { return eof_; }
  bool truncated() const { return truncated_; }
  const std::string& error() const { return error_; }  // "" or "stdout: No space left on device"
  uint64_t written() const { return written_; }

 private:
  void read_more();
  void consume(const char* data, size_t n);

  boost::asio::posix::stream_descriptor pipe_;
  int file_;
  uint64_t limit_;
  std::string name_;
  uint64_t written_ = 0;
  bool truncated_ = false;
  bool eof_ = false;
  std::string error_;
  std::function<void()> on_eof_;
  // A pipe's worth (64 KiB) per read. On the heap and not cleared: the runner and its pumps
  // live on the agent's stack, where two zeroed buffers were 128 KiB of resident memory (a
  // sixth of the agent's own); untouched heap pages cost nothing until output fills them.
  static constexpr size_t kBufferSize = 65536;
  std::unique_ptr<char[]> buf_{new char[kBufferSize]};
};

}  // namespace smartvm::agent
