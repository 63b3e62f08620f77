#include "job_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace smartvm::launcher {

namespace {

// Makes `dir` and takes its lock. nodeld removes a directory it finds unlocked and unused,
// holding the lock while it does: a directory made in that moment is gone by the time our
// flock returns (no links left), and is made again. Twice is plenty: nodeld removes a
// directory at most once a cycle.
Result<int> make_locked(const std::string& dir, const std::string& job_id) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    // libvirt's QEMU driver opens the sockets and files as its own user where it runs qemu
    // as one (dynamic ownership chowns them, not the directory): 0711 lets it reach them,
    // and nobody list them.
    if (mkdir(dir.c_str(), 0711) != 0) {
      if (errno == EEXIST) return make_error("job " + job_id + " exists on this node already (" + dir + ")");
      return os_error("create " + dir);
    }
    chmod(dir.c_str(), 0711);  // whatever the umask
    // O_CLOEXEC: a helper this process runs (qemu-img) must not keep the lock past our end.
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      auto error = os_error("open " + dir);
      rmdir(dir.c_str());  // empty: ours; the job id stays free
      return error;
    }
    if (flock(fd, LOCK_EX) != 0) {
      auto error = os_error("lock " + dir);
      close(fd);
      rmdir(dir.c_str());
      return error;
    }
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_nlink > 0) return fd;
    close(fd);  // removed by nodeld between our mkdir and our lock
  }
  return make_error("create " + dir + ": removed again and again while being made");
}

}  // namespace

Result<JobFiles> JobFiles::create(const std::string& root, const std::string& job_id) {
  std::string dir = root + "/" + job_id;
  if (size_t longest = (dir + "/console.sock").size(); longest >= sizeof(sockaddr_un::sun_path))
    return make_error("job directory " + dir + ": its socket paths would be " + std::to_string(longest) +
                      " characters, more than a Unix socket takes (" + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                      "): a shorter job id or runtime directory");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return make_error("create " + root + ": " + ec.message());
  auto fd = make_locked(dir, job_id);
  if (!fd) return fd.error();
  return JobFiles(dir, *fd);
}

JobFiles::JobFiles(JobFiles&& o) noexcept
    : dir_(std::exchange(o.dir_, {})), lock_fd_(std::exchange(o.lock_fd_, -1)) {}

JobFiles::~JobFiles() {
  (void)remove();
  if (lock_fd_ >= 0) close(lock_fd_);
}

Result<void> JobFiles::remove() {
  if (dir_.empty()) return {};
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::string dir = std::exchange(dir_, {});
  if (ec) return make_error("remove " + dir + ": " + ec.message());
  // Gone: the lock has nothing left to guard. (Kept while anything of it remains, so that
  // nodeld does not remove it under us.)
  close(std::exchange(lock_fd_, -1));
  return {};
}

}  // namespace smartvm::launcher
