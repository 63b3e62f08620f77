// The guest router's decisions as a pure function: from what netlink shows of the host and what
// nodeld knows of its guests, which /32 routes nodeld wants, which of its own routes go, which
// addresses are learned and which are refused. No netlink, no sysctl: GuestRouter::reconcile
// reads the host, calls plan_routes and carries the plan out.
#pragma once

#include "netlink.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace smartvm::nodeld {

// What nodeld knows besides the host's state.
struct RouteKnowledge {
  // Guest interface name -> addresses (network order): libvirt's, then the configured ones.
  std::map<std::string, std::vector<uint32_t>> guest_addresses;
  // False while libvirt has not answered once (libvirtd down at start, a netlink event before
  // the first report): routes nodeld made for libvirt's guests cannot be told from stale ones
  // then, so none of nodeld's routes is removed.
  bool libvirt_known = true;
  // guest_subnet; prefix 0: learning is off.
  uint32_t learn_network = 0;  // network order
  unsigned learn_prefix = 0;
  // Addresses never learned from a guest whatever it claims: the repository's NFS server.
  std::vector<uint32_t> reserved;
  // Senders of ARP requests seen on guest interfaces (ifindex, address), besides the ARP table.
  std::vector<std::pair<int, uint32_t>> arp_senders;
};

// The host as netlink shows it.
struct HostView {
  int ipoib_index = 0;
  uint32_t source = 0;             // the IPoIB address, network order
  std::vector<Link> guests;        // present guest interfaces
  std::vector<Address> addresses;  // every IPv4 address of the host
  std::vector<Route> routes;       // the main table
  std::vector<Neighbour> neighbours;
};

struct RoutePlan {
  std::set<std::pair<uint32_t, int>> wanted;  // (destination, oif)
  std::vector<Route> remove;                  // nodeld's routes no longer wanted
  std::vector<std::pair<uint32_t, int>> add;  // wanted and not there
  size_t kept = 0;                            // nodeld's routes that stay as they are
  std::vector<std::string> learned;           // "vif3.0=10.10.0.8"
  // Said once each in the log while they last: learned addresses refused, foreign routes in
  // the way of a guest's.
  std::vector<std::string> warnings;
};

RoutePlan plan_routes(const HostView& host, const RouteKnowledge& known);

}  // namespace smartvm::nodeld
