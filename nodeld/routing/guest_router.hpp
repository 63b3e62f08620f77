// The host as its guests' router onto the IPoIB network, as Xen's vif-route does it, but
// idempotently and through netlink: forwarding on; proxy ARP on the IPoIB interface and on every
// guest interface; on each guest interface the host's IPoIB address as a /32; and a /32 route to
// each guest address via its interface, with the IPoIB address as source. Routes nodeld made
// carry kRouteProtocol; only those are ever replaced or removed, so a reconcile after a restart
// changes nothing and foreign routes are left alone (a foreign /32 to a guest's address keeps
// the guest unrouted). Guest interfaces get strict reverse-path filtering, so a guest can send
// only from its own addresses. What to route is decided by plan_routes (route_plan.hpp).
#pragma once

#include "host_net.hpp"
#include "netlink.hpp"
#include "route_plan.hpp"
#include "routing_status.hpp"

#include <map>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct RoutingInput : RouteKnowledge {
  std::string ipoib_interface = "ib0";
  std::vector<std::string> guest_patterns{"vif*"};  // fnmatch globs
};

// An IPoIB interface's mode, "datagram" or "connected", from SYSFS/class/net/NAME/mode; "" when
// the file is not there (not IPoIB).
std::string read_ipoib_mode(const std::string& sysfs, const std::string& name);

class GuestRouter {
 public:
  // Makes the host's state match `in`. An IPoIB interface that is missing changes nothing and
  // says so (ipoib_present false); one without an IPv4 address is an error (nothing can be
  // routed); everything else that fails is a warning in the status and the reconcile goes on
  // with the other guests.
  // What it reads and what it does goes through `host` (host_net.hpp): plan_routes decides.
  Result<RoutingStatus> reconcile(HostNet& host, const RoutingInput& in);

 private:
  // The interface (by index) each guest address was last routed to: an address that turns up
  // behind another interface belongs to a new VM.
  std::map<uint32_t, int> owners_;
};

}  // namespace smartvm::nodeld
