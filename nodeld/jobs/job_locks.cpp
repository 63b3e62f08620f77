#include "job_locks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace smartvm::nodeld {

JobLocks::~JobLocks() {
  for (const auto& [dir, fd] : taken_) close(fd);
}

DirLock JobLocks::probe(const std::string& dir) {
  if (auto known = seen_.find(dir); known != seen_.end()) return known->second;
  DirLock state = DirLock::unknown;
  // O_RDONLY is all flock needs; O_NOFOLLOW: a symlink in the runtime directory is not a job's.
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) state = DirLock::missing;
    else errors_[dir] = "open " + dir + ": " + std::strerror(errno);
  } else if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    state = DirLock::taken;
    taken_[dir] = fd;
    fd = -1;
  } else if (errno == EWOULDBLOCK) {
    state = DirLock::held;
  } else {
    errors_[dir] = "lock " + dir + ": " + std::strerror(errno);
  }
  if (fd >= 0) close(fd);
  seen_[dir] = state;
  return state;
}

}  // namespace smartvm::nodeld
