// Opening and creating paths inside the repository so that nothing escapes it: every lookup
// is an openat2(RESOLVE_BENEATH) from the repository root, so ".." and symbolic links that
// would lead outside fail with EXDEV, whatever the tree looks like when the job runs.
#pragma once

#include "error.hpp"
#include "system.hpp"
#include "unique_fd.hpp"

#include <string>
#include <vector>

namespace smartvm::agent {

// Opens `rel` (relative to `root`, "" for the root itself) without leaving `root`.
Result<UniqueFd> open_beneath(int root, const std::string& rel, int flags, mode_t mode = 0);

// Creates the directory `rel` and its missing parents beneath `root` (mode 0777 less the
// umask) and opens it O_RDONLY|O_DIRECTORY.
Result<UniqueFd> make_directories_beneath(int root, const std::string& rel);

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string, std::string> split_parent(const std::string& rel);

// While alive, filesystem access uses the job's uid, gid and groups (setfsuid/setfsgid), so
// that what the agent creates belongs to the job's user and a root-squashed NFS export treats
// the agent like the user, and the job's umask, so that the workdir, the output and status
// files get the modes the job's own files would. Per thread, and for the calling thread only:
// the agent's filesystem work is all on its main thread (the watchdog's thread touches no
// filesystem). The groups too, through the raw system call: glibc's setgroups() changes every
// thread's, signalling each other thread and waiting until it has run, a wakeup of the
// watchdog's thread (and on a busy machine a wait for a CPU) at every switch and back. The
// umask is process-wide; nothing else creates files meanwhile.
class FsIdentity {
 public:
  FsIdentity(const Credentials& c, mode_t umask);
  ~FsIdentity();
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;

 private:
  std::vector<gid_t> saved_groups_;
  bool switched_ = false;
  mode_t saved_umask_;
};

}  // namespace smartvm::agent
