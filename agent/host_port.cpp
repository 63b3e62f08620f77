#include "host_port.hpp"

#include "small_file.hpp"
#include "unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm::agent {

std::string find_virtio_port(const std::string& name, const std::string& dev_root, const std::string& sys_root) {
  std::string by_name = dev_root + "/virtio-ports/" + name;
  struct stat st {};
  if (stat(by_name.c_str(), &st) == 0) return by_name;
  std::string ports = sys_root + "/class/virtio-ports";
  DIR* d = opendir(ports.c_str());
  if (!d) return "";
  std::string found;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = read_small_file(ports + "/" + e->d_name + "/name", 4096);
    if (!text) continue;
    std::string port_name = *text;
    while (!port_name.empty() && (port_name.back() == '\n' || port_name.back() == ' ')) port_name.pop_back();
    if (port_name == name && stat((dev_root + "/" + e->d_name).c_str(), &st) == 0) {
      found = dev_root + "/" + e->d_name;
      break;
    }
  }
  closedir(d);
  return found;
}

Result<void> write_to_port(const std::string& path, const std::string& text, std::chrono::milliseconds deadline) {
  using Clock = std::chrono::steady_clock;
  auto until = Clock::now() + deadline;
  // O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of waiting for one.
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) return os_error("open " + path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return os_error("write to " + path);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0)
      return make_error("write to " + path + ": nobody on the host took the record within " +
                        std::to_string(deadline.count()) + " ms (" + std::to_string(done) + " of " +
                        std::to_string(text.size()) + " bytes written)");
    pollfd p{fd.get(), POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) return os_error("poll " + path);
  }
  return {};
}

}  // namespace smartvm::agent
