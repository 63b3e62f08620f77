#include "route_plan.hpp"

#include <arpa/inet.h>
#include <linux/neighbour.h>

#include <algorithm>

namespace smartvm::nodeld {

namespace {

bool usable(const Neighbour& n) { return n.state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT); }

}  // namespace

RoutePlan plan_routes(const HostView& host, const RouteKnowledge& known) {
  RoutePlan p;
  auto guest_name = [&](int index) -> std::string {
    auto it = std::find_if(host.guests.begin(), host.guests.end(), [&](const Link& l) { return l.index == index; });
    return it == host.guests.end() ? std::string() : it->name;
  };

  std::set<uint32_t> known_anywhere;  // every address libvirt or the configuration gives a guest
  for (const auto& [name, list] : known.guest_addresses) known_anywhere.insert(list.begin(), list.end());
  for (const Link& l : host.guests)
    if (auto it = known.guest_addresses.find(l.name); it != known.guest_addresses.end())
      for (uint32_t a : it->second) p.wanted.insert({a, l.index});

  // Learned addresses come last: one that is configured, learned elsewhere, the host's, the
  // repository's or a host's of the IPoIB network is not taken. Otherwise a guest that asks
  // with the NFS server's address would get it routed to itself, the host's and every other
  // guest's traffic to it with it.
  if (known.learn_prefix) {
    uint32_t mask = htonl(known.learn_prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> known.learn_prefix));
    std::set<uint32_t> own;
    for (const Address& a : host.addresses) own.insert(a.address);
    own.insert(host.source);
    std::set<uint32_t> reserved(known.reserved.begin(), known.reserved.end());
    std::set<uint32_t> on_ipoib;  // hosts the IPoIB network has answered for
    for (const Neighbour& n : host.neighbours)
      if (n.index == host.ipoib_index && usable(n)) on_ipoib.insert(n.address);
    // Where each address is routed now (nodeld's routes through interfaces that still exist).
    std::map<uint32_t, int> routed;
    for (const Route& r : host.routes)
      if (r.protocol == kRouteProtocol && r.prefix == 32 && !guest_name(r.oif).empty()) routed.emplace(r.destination, r.oif);
    std::map<uint32_t, int> taken;
    for (const auto& [a, oif] : p.wanted) taken.emplace(a, oif);

    std::vector<std::pair<int, uint32_t>> candidates;
    for (const Neighbour& n : host.neighbours)
      if (usable(n)) candidates.push_back({n.index, n.address});
    candidates.insert(candidates.end(), known.arp_senders.begin(), known.arp_senders.end());
    std::set<std::pair<int, uint32_t>> seen;
    for (const auto& [index, a] : candidates) {
      std::string name = guest_name(index);
      if (name.empty() || (a & mask) != known.learn_network || !seen.insert({index, a}).second) continue;
      auto refuse = [&](const std::string& why) {
        p.warnings.push_back("guest interface " + name + " claims " + ipv4_text(a) + ", " + why + ": not learned");
      };
      if (own.count(a)) {
        refuse("an address of this host");
      } else if (reserved.count(a)) {
        refuse("the repository's address");
      } else if (on_ipoib.count(a)) {
        refuse("a host on the IPoIB network");
      } else if (auto t = taken.find(a); t != taken.end()) {
        if (t->second != index) refuse("the address of guest interface " + guest_name(t->second));
      } else if (known_anywhere.count(a)) {
        refuse("another guest's address");
      } else if (auto r = routed.find(a); r != routed.end() && r->second != index) {
        refuse("the address of guest interface " + guest_name(r->second));
      } else {
        taken.emplace(a, index);
        p.wanted.insert({a, index});
        p.learned.push_back(name + "=" + ipv4_text(a));
      }
    }
  }

  // A /32 to a guest's address that is not nodeld's (an administrator's static route, another
  // daemon's) wins: replacing it would take it over.
  std::set<uint32_t> blocked;
  for (const Route& r : host.routes)
    if (r.protocol != kRouteProtocol && r.prefix == 32 &&
        std::any_of(p.wanted.begin(), p.wanted.end(), [&](const auto& w) { return w.first == r.destination; }))
      blocked.insert(r.destination);
  for (uint32_t a : blocked)
    p.warnings.push_back("a route to " + ipv4_text(a) + "/32 that is not nodeld's (another protocol) is in the way: guest address " +
                         ipv4_text(a) + " is not routed");

  std::set<std::pair<uint32_t, int>> present;
  for (const Route& r : host.routes) {
    if (r.protocol != kRouteProtocol) continue;  // never touch what is not ours
    if (r.prefix == 32 && p.wanted.count({r.destination, r.oif}) && r.source == host.source) {
      present.insert({r.destination, r.oif});
      ++p.kept;
      continue;
    }
    bool superseded = std::any_of(p.wanted.begin(), p.wanted.end(), [&](const auto& w) { return w.first == r.destination; });
    if (!known.libvirt_known && !superseded) {
      ++p.kept;
      continue;
    }
    p.remove.push_back(r);
  }
  for (const auto& w : p.wanted)
    if (!present.count(w) && !blocked.count(w.first)) p.add.push_back(w);
  return p;
}

}  // namespace smartvm::nodeld
