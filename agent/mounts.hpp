// Mounting and unmounting through libmount, which knows the helpers (mount.nfs), loop
// devices for image files and how to report a failure in words.
#pragma once

#include "error.hpp"

#include <chrono>
#include <string>

namespace smartvm::agent {

struct MountRequest {
  std::string source;
  std::string target;
  std::string type;     // "" = let libmount/libblkid find out
  std::string options;  // comma-separated, as in fstab
  bool read_only = false;
  bool bind = false;
};

Result<void> mount_filesystem(const MountRequest& req);

// mount_filesystem in a child process of its own (with the helpers libmount runs, such as
// mount.nfs, in the child's process group), given at most `limit`: a helper that hangs (a
// server that does not answer, a helper waiting on the network) is killed then, and so it is
// as soon as `stop_fd` (a signalfd of the stop signals, or -1) becomes readable.
Result<void> mount_filesystem_within(const MountRequest& req, std::chrono::milliseconds limit, int stop_fd);

// Unmounts `target`; when it stays busy for a few tries, detaches it lazily and says so.
Result<void> unmount_filesystem(const std::string& target);

// syncfs(2) of the filesystem holding `path`, waited for at most `limit`: on a hard NFS mount
// whose server does not answer it never returns (the thread doing it is left behind).
Result<void> sync_filesystem_within(const std::string& path, std::chrono::seconds limit);

// For a filesystem whose server no longer answers (a sync that did not end): MNT_FORCE (for
// NFS, aborts the requests in flight), else a lazy detach, which never waits.
Result<void> force_unmount_filesystem(const std::string& target);

// Creates a directory and its parents (0755) when missing.
Result<void> make_directories(const std::string& path);

}  // namespace smartvm::agent
