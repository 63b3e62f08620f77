#include "small_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm {

Result<std::string> read_small_file(const std::string& path, size_t limit) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("open " + path);
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = os_error("read " + path);
      close(fd);
      return e;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > limit) {
      close(fd);
      return make_error(path + ": larger than " + std::to_string(limit) + " bytes");
    }
  }
  close(fd);
  return data;
}

}  // namespace smartvm
