// A guest's network interfaces as its libvirt domain XML declares them: the host-side device
// (<target dev='vif1.0'/>) and the IPv4 addresses given to it (<ip address='10.10.0.5'/>; Xen's
// vif ip= becomes the same). The guest router routes these addresses to that device.
#pragma once

#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm::nodeld {

struct GuestInterface {
  std::string device;
  std::vector<std::string> addresses;
};

// Interfaces without a target device or without IPv4 addresses are left out.
Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml);

}  // namespace smartvm::nodeld
