#include "mounts.hpp"

#include <libmount/libmount.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>

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

// "mount.nfs" for a helper that libmount ran: the type it was run for.
std::string helper_name(libmnt_context* cxt) {
  const char* type = mnt_fs_get_fstype(mnt_context_get_fs(cxt));
  return std::string("mount.") + (type ? type : "helper");
}

// Whether `path` is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8); true
// where the kernel cannot tell.
Result<bool> is_mount_root(const std::string& path) {
  struct statx stx {};
  if (statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) != 0) return os_error("stat " + path);
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return true;
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
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
  std::string what = "mount " + req.source + " on " + req.target;
  // A helper (mount.nfs) that ran counts as "status 1" for libmount whatever it exited with:
  // its exit status is the verdict. Taken as success, a refused NFS mount would leave the job
  // writing to the guest's own disk, its results lost with the VM.
  if (rc == 0 && mnt_context_helper_executed(cxt.get()) && mnt_context_get_helper_status(cxt.get()) != 0)
    return Error{what + ": " + helper_name(cxt.get()) + " failed with exit status " +
                     std::to_string(mnt_context_get_helper_status(cxt.get())) + " (its message is above)",
                 std::make_error_code(std::errc::io_error)};
  if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
    int err = mnt_context_get_syscall_errno(cxt.get());
    return Error{what + ": " + describe(cxt.get(), rc), std::error_code(err ? err : EIO, std::generic_category())};
  }
  // Whoever says "mounted" (a helper, a kernel), something must now be mounted there.
  if (auto mounted = is_mount_root(req.target); !mounted)
    return mounted.error().context(what);
  else if (!*mounted)
    return Error{what + ": reported as mounted, but " + req.target + " is still the bare directory",
                 std::make_error_code(std::errc::io_error)};
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
