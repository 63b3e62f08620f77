// RDMA ports and their IPoIB interfaces. Ports come from sysfs the way ibstat reads them
// (SYSFS/class/infiniband/DEV/ports/N/{state,phys_state,rate,link_layer,gids/0}), which needs no
// device node; only the active MTU, which sysfs does not show, comes from libibverbs, and a
// device verbs cannot open (no access to /dev/infiniband/uverbs*) just reports MTU 0. IPoIB
// interfaces come from sysfs too (type 32, the GID in the last 16 bytes of the hardware
// address, mode, MTU), tied to their port by GUID. A host without RDMA (no
// class/infiniband) has no ports: that is a normal, quiet state, not an error.
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

// libibverbs alone (ibv_query_port): every field, but only where the device opens.
std::unique_ptr<RdmaDevices> make_verbs_devices();
// sysfs under SYSFS_ROOT for the ports, libibverbs for their active MTU where it can.
std::unique_ptr<RdmaDevices> make_host_devices(const std::string& sysfs_root);

// The ports of SYSFS_ROOT/class/infiniband, by device and port number, mtu left 0. None when
// the directory is not there; a port whose files cannot be read is an error naming the file.
Result<std::vector<RdmaPort>> read_sysfs_ports(const std::string& sysfs_root);

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
