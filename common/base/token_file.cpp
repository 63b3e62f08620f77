#include "token_file.hpp"

#include "unique_fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm {

namespace {

constexpr size_t kLimit = 4096;

}  // namespace

Result<std::string> read_token_file(const std::string& path) {
  // O_NONBLOCK: a FIFO (or a device) put where the token should be must not block whoever
  // reads it (nodeld's event loop on a reload); it is refused below, before any read.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) return os_error("token file " + path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return os_error("token file " + path);
  if (!S_ISREG(st.st_mode)) return make_error("token file " + path + " is not a regular file");
  if (st.st_mode & S_IROTH) return make_error("token file " + path + " is readable by everyone; chmod o-r it");
  std::string text;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error("token file " + path);
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kLimit) return make_error("token file " + path + ": larger than " + std::to_string(kLimit) + " bytes");
  }
  std::string t = text.substr(0, text.find('\n'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.pop_back();
  if (t.size() < 16) return make_error("token file " + path + ": the token must have at least 16 characters");
  return t;
}

}  // namespace smartvm
