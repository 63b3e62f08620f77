#include "mounts.hpp"

#include <libmount/libmount.h>
#include <sys/mount.h>

#include <cerrno>
#include <chrono>
#include <sys/stat.h>
#include <memory>
#include <thread>

namespace smartvm::agent {
namespace {

using ContextPtr = std::unique_ptr<libmnt_context, decltype(&mnt_free_context)>;

// libmount's own wording of what went wrong ("mount point does not exist", the helper's
// message, "wrong fs type, bad option, bad superblock ...").
std::string describe(libmnt_context* cxt, int rc) {
  char buf[1024] = "";
  mnt_context_get_excode(cxt, rc, buf, sizeof buf);
  if (buf[0]) return buf;
  return rc < 0 ? std::string(strerror(-rc)) : "mount failed with code " + std::to_string(rc);
}

}  // namespace

// mkdir -p. Not std::filesystem::create_directories: see context_document.hpp.
Result<void> make_directories(const std::string& path) {
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return os_error("create " + prefix);
    if (slash == std::string::npos) break;
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return make_error("create " + path + ": not a directory");
  return {};
}

Result<void> mount_filesystem(const MountRequest& req) {
  ContextPtr cxt(mnt_new_context(), mnt_free_context);
  if (!cxt) return make_error("mount " + req.target + ": out of memory");
  std::string options = req.options;
  auto add = [&options](const char* o) { options += (options.empty() ? "" : ",") + std::string(o); };
  if (req.bind) add("bind");
  if (req.read_only) add("ro");
  // Both source and target are given, so fstab and mtab are not consulted.
  if (mnt_context_set_source(cxt.get(), req.source.c_str()) || mnt_context_set_target(cxt.get(), req.target.c_str()) ||
      (!req.type.empty() && mnt_context_set_fstype(cxt.get(), req.type.c_str())) ||
      (!options.empty() && mnt_context_set_options(cxt.get(), options.c_str())))
    return make_error("mount " + req.source + " on " + req.target + ": invalid mount request");
  int rc = mnt_context_mount(cxt.get());
  if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
    int err = mnt_context_get_syscall_errno(cxt.get());
    return Error{"mount " + req.source + " on " + req.target + ": " + describe(cxt.get(), rc),
                 std::error_code(err ? err : EIO, std::generic_category())};
  }
  // A read-only bind mount needs a remount to become read-only on older kernels; libmount
  // does that itself since util-linux 2.27.
  return {};
}

Result<void> unmount_filesystem(const std::string& target) {
  int last_errno = 0;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return {};
    last_errno = errno;
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (last_errno == EBUSY && umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return make_error("unmount " + target + ": still busy after 2 s; detached lazily");
  return os_error("unmount " + target, last_errno);
}

}  // namespace smartvm::agent
