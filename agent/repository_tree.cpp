#include "repository_tree.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm::agent {
namespace {

Error path_error(const std::string& rel, int err) {
  std::string shown = rel.empty() ? "the repository root" : "\"" + rel + "\"";
  if (err == EXDEV) return Error{shown + " escapes the repository (through a symbolic link or \"..\")",
                                 std::error_code(err, std::generic_category())};
  if (err == ELOOP) return Error{shown + ": too many symbolic links, or a link the agent does not follow",
                                 std::error_code(err, std::generic_category())};
  return os_error(shown, err);
}

}  // namespace

Result<UniqueFd> open_beneath(int root, const std::string& rel, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno != EINTR && errno != EAGAIN) return path_error(rel, errno);
  }
}

std::pair<std::string, std::string> split_parent(const std::string& rel) {
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

Result<UniqueFd> make_directories_beneath(int root, const std::string& rel) {
  if (auto fd = open_beneath(root, rel, O_RDONLY | O_DIRECTORY); fd || fd.error().code != std::errc::no_such_file_or_directory)
    return fd;
  auto [parent, name] = split_parent(rel);
  auto parent_fd = make_directories_beneath(root, parent);
  if (!parent_fd) return parent_fd;
  if (mkdirat(parent_fd->get(), name.c_str(), 0777) != 0 && errno != EEXIST)
    return os_error("create directory \"" + rel + "\" in the repository");
  return open_beneath(root, rel, O_RDONLY | O_DIRECTORY);
}

FsIdentity::FsIdentity(const Credentials& c, mode_t mask) : saved_umask_(umask(mask)) {
  if (c.uid == 0) return;  // root jobs act as root
  int n = getgroups(0, nullptr);
  saved_groups_.resize(static_cast<size_t>(n > 0 ? n : 0));
  if (n > 0 && getgroups(n, saved_groups_.data()) != n) saved_groups_.clear();
  syscall(SYS_setgroups, c.groups.size(), c.groups.data());  // this thread's only (see the header)
  setfsgid(c.gid);
  setfsuid(c.uid);
  switched_ = true;
}

FsIdentity::~FsIdentity() {
  umask(saved_umask_);
  if (!switched_) return;
  setfsuid(0);
  setfsgid(0);
  syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data());
}

}  // namespace smartvm::agent
