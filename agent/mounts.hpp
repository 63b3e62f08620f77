// Mounting and unmounting through libmount, which knows the helpers (mount.nfs), loop
// devices for image files and how to report a failure in words.
#pragma once

#include "error.hpp"

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

// Unmounts `target`; when it stays busy for a few tries, detaches it lazily and says so.
Result<void> unmount_filesystem(const std::string& target);

// Creates a directory and its parents (0755) when missing.
Result<void> make_directories(const std::string& path);

}  // namespace smartvm::agent
