// RDMA ports and their IPoIB interfaces. Ports come from libibverbs (state, physical state,
// rate, active MTU, link layer, GUID); IPoIB interfaces from sysfs (type 32, the GID in the
// last 16 bytes of the hardware address, mode, MTU), tied to their port by GUID. A host
// without RDMA (ibv_get_device_list fails with ENOSYS, or lists nothing) has no ports: that is
// a normal, quiet state, not an error.
#pragma once

#include "error.hpp"
#include "snapshot.hpp"

#include <memory>
#include <string>
#include <vector>

namespace smartvm::nodeld {

// Where ports come from. The real one is libibverbs; libibverbs cannot open a device from a
// fake sysfs tree, so tests give ports through a fake of this.
class RdmaDevices {
 public:
  virtual ~RdmaDevices() = default;
  // Every port of every device, ipoib_* left empty.
  virtual Result<std::vector<RdmaPort>> ports() = 0;
};

std::unique_ptr<RdmaDevices> make_verbs_devices();

struct IpoibInterface {
  std::string name;
  uint64_t port_guid = 0;
  std::string mode;  // datagram, connected
  unsigned mtu = 0;
};

// Every interface under SYSFS_ROOT/class/net of type 32 (ARPHRD_INFINIBAND), by name.
Result<std::vector<IpoibInterface>> scan_ipoib_interfaces(const std::string& sysfs_root);

// Gives each port the first (by name) IPoIB interface with its GUID: ib0 before its child
// ib0.8001, which shares the GUID.
void tie_ipoib_interfaces(std::vector<RdmaPort>& ports, const std::vector<IpoibInterface>& interfaces);

// The signalling rate of a port in Gb/s from the verbs width and speed codes (4x QDR: 40).
double ib_rate_gbps(unsigned active_width, unsigned active_speed);
const char* ib_phys_state_name(unsigned phys_state);

class RdmaSource {
 public:
  RdmaSource(std::unique_ptr<RdmaDevices> devices, std::string sysfs_root)
      : devices_(std::move(devices)), sysfs_root_(std::move(sysfs_root)) {}
  Result<std::vector<RdmaPort>> collect();

 private:
  std::unique_ptr<RdmaDevices> devices_;
  std::string sysfs_root_;
};

}  // namespace smartvm::nodeld
