// A guest's disks as its libvirt domain XML declares them: the guest-side name libvirt's block
// calls take (<target dev='vda'/>) and the host file or device behind it (<source file=.../>
// or <source dev=.../>), which the cgroup throttle backend needs to find the host's disk.
#pragma once

#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm::nodeld {

struct GuestDisk {
  std::string target;  // vda, xvda
  std::string source;  // /var/lib/libvirt/images/job.qcow2, /dev/vg/job; "" for network disks
};

// Disks only (no CD-ROMs: the context ISO is read once and is not worth a limit).
Result<std::vector<GuestDisk>> guest_disks_from_xml(const std::string& domain_xml);

}  // namespace smartvm::nodeld
