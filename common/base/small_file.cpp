#include "small_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm {

Result<std::string> read_small_file(const std::string& path, size_t limit) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("open " + path);
  auto data = read_small_fd(fd, path, limit);
  close(fd);
  return data;
}

Result<std::string> read_small_fd(int fd, const std::string& path, size_t limit) {
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("read " + path);
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > limit) return make_error(path + ": larger than " + std::to_string(limit) + " bytes");
  }
}

Result<void> write_kernel_file(const std::string& path, std::string_view value) {
  // O_TRUNC: nothing to a kernel file, but a regular file standing in for one in a test must
  // hold the last value written, not the tail of a longer earlier one.
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return os_error("open " + path);
  ssize_t n = write(fd, value.data(), value.size());
  Error e = n < 0 ? os_error("write " + path) : Error{};
  close(fd);
  if (n < 0) return e;
  if (static_cast<size_t>(n) != value.size()) return make_error("write " + path + ": short write");
  return {};
}

}  // namespace smartvm
