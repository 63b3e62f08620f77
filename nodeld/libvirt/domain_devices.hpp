// A guest's devices as its libvirt domain XML declares them: the network interfaces the guest
// router routes to and the disks the throttle limits. Parsed through xml_tree.hpp.
#pragma once

#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm::nodeld {

// A network interface: the host-side device (<target dev='vif1.0'/>) and the IPv4 addresses
// given to it (<ip address='10.10.0.5'/>; Xen's vif ip= becomes the same). The guest router
// routes these addresses to that device.
struct GuestInterface {
  std::string device;
  std::vector<std::string> addresses;
};

// Interfaces without a target device or without IPv4 addresses are left out.
Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml);

// A disk: the guest-side name libvirt's block calls take (<target dev='vda'/>) and the host file
// or device behind it (<source file=.../> or <source dev=.../>), which the cgroup throttle
// backend needs to find the host's disk.
struct GuestDisk {
  std::string target;  // vda, xvda
  std::string source;  // /var/lib/libvirt/images/job.qcow2, /dev/vg/job; "" for network disks
};

// Disks only (no CD-ROMs: the context ISO is read once and is not worth a limit).
Result<std::vector<GuestDisk>> guest_disks_from_xml(const std::string& domain_xml);

}  // namespace smartvm::nodeld
