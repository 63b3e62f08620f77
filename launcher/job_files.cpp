#include "job_files.hpp"

#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <filesystem>

namespace smartvm::launcher {

Result<JobFiles> JobFiles::create(const std::string& root, const std::string& job_id) {
  std::string dir = root + "/" + job_id;
  // libvirt's QEMU driver opens the sockets and files as its own user where it runs qemu as
  // one (dynamic ownership chowns them, not the directory): 0711 lets it reach them, and
  // nobody list them.
  if (size_t longest = (dir + "/console.sock").size(); longest >= sizeof(sockaddr_un::sun_path))
    return make_error("job directory " + dir + ": its socket paths would be " + std::to_string(longest) +
                      " characters, more than a Unix socket takes (" + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                      "): a shorter job id or runtime directory");
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) return make_error("create " + root + ": " + ec.message());
  if (mkdir(dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) return make_error("job " + job_id + " exists on this node already (" + dir + ")");
    return os_error("create " + dir);
  }
  chmod(dir.c_str(), 0711);  // whatever the umask
  return JobFiles(dir);
}

JobFiles::JobFiles(JobFiles&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}

JobFiles::~JobFiles() { (void)remove(); }

Result<void> JobFiles::remove() {
  if (dir_.empty()) return {};
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  std::string dir = std::exchange(dir_, {});
  if (ec) return make_error("remove " + dir + ": " + ec.message());
  return {};
}

}  // namespace smartvm::launcher
