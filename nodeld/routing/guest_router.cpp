#include "guest_router.hpp"

#include "route_plan.hpp"
#include "small_file.hpp"

#include <arpa/inet.h>
#include <fnmatch.h>
#include <net/if_arp.h>

#include <algorithm>
#include <cstdint>

namespace smartvm::nodeld {

std::string read_ipoib_mode(const std::string& sysfs, const std::string& name) {
  auto text = read_small_file(sysfs + "/class/net/" + name + "/mode", 64);
  if (!text) return "";
  return text->substr(0, text->find('\n'));
}

Result<RoutingStatus> GuestRouter::reconcile(HostNet& host, const RoutingInput& in) {
  RoutingStatus st;
  st.ipoib_interface = in.ipoib_interface;
  auto links = host.links();
  if (!links) return links.error();
  auto addresses = host.addresses();
  if (!addresses) return addresses.error();
  auto routes = host.routes();
  if (!routes) return routes.error();
  std::vector<Neighbour> neighbours;
  if (in.learn_prefix) {
    auto n = host.neighbours();
    if (!n) return n.error();
    neighbours = std::move(*n);
  }

  auto ib = std::find_if(links->begin(), links->end(), [&](const Link& l) { return l.name == in.ipoib_interface; });
  if (ib == links->end()) return st;  // ipoib_present false: whether that is wrong is the caller's to say
  st.ipoib_present = true;
  st.ipoib_is_infiniband = ib->type == ARPHRD_INFINIBAND;
  st.ipoib_mtu = ib->mtu;
  st.ipoib_mode = host.ipoib_mode(in.ipoib_interface);
  if (st.ipoib_is_infiniband && st.ipoib_mode.empty())
    st.warnings.push_back(in.ipoib_interface + " is InfiniBand but says no IPoIB mode (no class/net/" + in.ipoib_interface +
                          "/mode in sysfs)");
  uint32_t source = 0;
  for (const Address& a : *addresses)
    if (a.index == ib->index && a.prefix < 32) {
      source = a.address;
      break;
    }
  if (!source) return make_error(in.ipoib_interface + " has no IPv4 address; guests are not routed");
  st.ipoib_address = ipv4_text(source);

  auto warn = [&](const Result<void>& r) {
    if (!r) st.warnings.push_back(r.error().message);
  };
  warn(host.set_sysctl("net/ipv4/ip_forward", "1"));
  warn(host.set_sysctl("net/ipv4/conf/" + in.ipoib_interface + "/proxy_arp", "1"));
  // Without it the first ARP answer for a guest waits up to 0.8 s.
  warn(host.set_sysctl("net/ipv4/neigh/" + in.ipoib_interface + "/proxy_delay", "0"));

  // The kernel uses the larger of conf/all and the interface's rp_filter: 2 (loose) in "all"
  // would weaken the strict check on guest interfaces.
  if (auto all = host.sysctl("net/ipv4/conf/all/rp_filter"); all && all->substr(0, 1) == "2")
    st.warnings.push_back("net.ipv4.conf.all.rp_filter is 2 (loose): guests' source addresses are not checked strictly; set it to 0 or 1");

  HostView view;
  view.ipoib_index = ib->index;
  view.source = source;
  view.addresses = *addresses;
  view.routes = std::move(*routes);
  view.neighbours = std::move(neighbours);
  // The guest interfaces' links and addresses go to the host together; what failed is said
  // below, in each interface's turn.
  constexpr size_t kNone = SIZE_MAX;
  struct GuestChanges {
    size_t up = kNone, address = kNone;  // where in `changes`
  };
  std::vector<NetChange> changes;
  std::vector<GuestChanges> guest_changes;
  for (const Link& l : *links) {
    if (l.index == ib->index) continue;
    bool guest = std::any_of(in.guest_patterns.begin(), in.guest_patterns.end(),
                             [&](const std::string& p) { return fnmatch(p.c_str(), l.name.c_str(), 0) == 0; });
    if (!guest) continue;
    view.guests.push_back(l);
    st.guest_interfaces.push_back(l.name);
    GuestChanges g;
    if (!l.up) {
      g.up = changes.size();
      changes.push_back(LinkUp{l.index});
    }
    bool has_source = std::any_of(addresses->begin(), addresses->end(), [&](const Address& a) {
      return a.index == l.index && a.address == source && a.prefix == 32;
    });
    if (!has_source) {
      g.address = changes.size();
      changes.push_back(AddAddress{l.index, source, 32});
    }
    guest_changes.push_back(g);
  }
  std::vector<Result<void>> made = host.apply(changes);
  // Anti-spoofing from the first packet: strict reverse-path filtering accepts a packet from
  // a guest interface only if the route back to its source leaves through that interface,
  // i.e. only from the guest's own addresses, for which this router holds the /32 routes.
  // Addresses still to be learned come from the ARP requests the guest sends (ArpWatcher
  // sees them before the filter drops them), so no interface is ever left open.
  constexpr size_t kSettings = 3;  // each guest interface's, in this order
  std::vector<std::pair<std::string, std::string>> settings;
  for (const Link& l : view.guests) {
    settings.emplace_back("net/ipv4/conf/" + l.name + "/rp_filter", "1");
    settings.emplace_back("net/ipv4/conf/" + l.name + "/proxy_arp", "1");
    settings.emplace_back("net/ipv4/neigh/" + l.name + "/proxy_delay", "0");
  }
  std::vector<Result<void>> set = host.set_sysctls(settings);
  for (size_t i = 0; i < view.guests.size(); ++i) {
    const Link& l = view.guests[i];
    for (size_t at : {guest_changes[i].up, guest_changes[i].address})
      if (at != kNone) warn(made[at]);
    for (size_t k = 0; k < kSettings; ++k) warn(set[i * kSettings + k]);
    if (st.ipoib_mtu && l.mtu > st.ipoib_mtu)
      st.warnings.push_back("guest interface " + l.name + " has MTU " + std::to_string(l.mtu) + ", more than " +
                            in.ipoib_interface + "'s " + std::to_string(st.ipoib_mtu) + ": large packets will be fragmented or dropped");
  }

  RoutePlan plan = plan_routes(view, in);
  st.learned = plan.learned;
  st.warnings.insert(st.warnings.end(), plan.warnings.begin(), plan.warnings.end());
  const auto& wanted = plan.wanted;

  // An address now behind another interface than before: a new VM has it, and the old one's
  // tracked connections must go.
  for (const auto& [address, oif] : wanted) {
    auto [it, inserted] = owners_.try_emplace(address, oif);
    if (inserted || it->second == oif) continue;
    it->second = oif;
    st.reassigned.push_back(ipv4_text(address));
    if (auto forgot = host.forget_connections(address); !forgot) st.warnings.push_back(forgot.error().message);
  }

  // nodeld's routes that are no longer wanted go; wanted ones that are missing are added. All
  // in one go, the removals first (a stale route of ours may hold a wanted one's key).
  std::vector<NetChange> route_changes;
  for (const Route& r : plan.remove) route_changes.push_back(DeleteRoute{r});
  for (const auto& [destination, oif] : plan.add) route_changes.push_back(AddRoute{destination, oif, source});
  std::vector<Result<void>> routed = host.apply(route_changes);
  for (size_t i = 0; i < routed.size(); ++i) {
    if (!routed[i]) warn(routed[i]);
    else if (i < plan.remove.size()) ++st.removed;
    else ++st.added;
  }
  st.routes = plan.kept + st.added;
  return st;
}

}  // namespace smartvm::nodeld
