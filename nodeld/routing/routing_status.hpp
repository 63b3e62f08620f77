// What routing tells the report, as plain records: the guest router's newest reconcile
// (guest_router.hpp) and the repository probe's answer (repository_probe.hpp). The report
// model (snapshot.hpp) includes this header and nothing else of routing.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct RoutingStatus {
  std::string ipoib_interface;
  bool ipoib_present = false;
  bool ipoib_is_infiniband = false;  // ARPHRD_INFINIBAND; a veth stands in for it in tests
  std::string ipoib_mode;            // datagram or connected (sysfs); "" when not IPoIB
  std::string ipoib_address;
  unsigned ipoib_mtu = 0;
  std::vector<std::string> guest_interfaces;
  std::vector<std::string> learned;  // "vif3.0=10.10.0.8"
  size_t routes = 0;  // owned routes after the reconcile
  size_t added = 0, removed = 0;  // by this reconcile
  std::vector<std::string> warnings;
  std::vector<std::string> reassigned;  // "10.10.0.5": a new guest took the address; its old connections were forgotten
};

struct ProbeResult {
  std::string target;  // host:port
  bool reachable = false;
  double connect_ms = 0;
  std::string error;
};

}  // namespace smartvm::nodeld
