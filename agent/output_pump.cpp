#include "output_pump.hpp"

#include <boost/asio/buffer.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smartvm::agent {

OutputPump::OutputPump(boost::asio::io_context& io, UniqueFd pipe_read_end, int file, uint64_t limit, std::string name)
    : pipe_(io, pipe_read_end.release()), file_(file), limit_(limit), name_(std::move(name)) {}

void OutputPump::start(std::function<void()> on_eof) {
  on_eof_ = std::move(on_eof);
  read_more();
}

void OutputPump::read_more() {
  pipe_.async_read_some(boost::asio::buffer(buf_.get(), kBufferSize), [this](const boost::system::error_code& ec, size_t n) {
    if (n > 0) consume(buf_.get(), n);
    // EOF: every writer (the job and whatever it started) is gone; or close_if_drained().
    if (ec) {
      eof_ = true;
      if (pipe_.is_open()) pipe_.close();
      if (on_eof_) on_eof_();
      return;
    }
    read_more();
  });
}

bool OutputPump::close_if_drained() {
  if (eof_ || !pipe_.is_open()) return true;
  int pending = 0;
  if (ioctl(pipe_.native_handle(), FIONREAD, &pending) == 0 && pending > 0) return false;
  // The pending read ends with operation_aborted and marks the end; a read that already
  // completed still delivers its data first.
  pipe_.close();
  return true;
}

void OutputPump::consume(const char* data, size_t n) {
  if (limit_ && written_ + n > limit_) {
    truncated_ = true;
    n = static_cast<size_t>(limit_ - written_);
  }
  while (n > 0 && error_.empty()) {
    ssize_t w = write(file_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = name_ + ": " + std::strerror(errno);  // keep draining the pipe, drop the rest
      break;
    }
    data += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

}  // namespace smartvm::agent
