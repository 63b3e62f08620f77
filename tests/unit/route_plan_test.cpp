// plan_routes, the guest router's decisions, without netlink: the cases of issue 12 item 15; and
// reconcile, which carries them out, on an in-memory host.
#include "arp_watcher.hpp"
#include "catch_result.hpp"
#include "guest_router.hpp"
#include "host_net.hpp"
#include "route_plan.hpp"

#include <catch2/catch.hpp>

#include <linux/neighbour.h>
#include <net/if_arp.h>
#include <linux/rtnetlink.h>

#include <algorithm>

using namespace smartvm::nodeld;

namespace {

uint32_t ip(const char* text) {
  uint32_t a = 0;
  REQUIRE(parse_ipv4(text, a));
  return a;
}

// ib0 (index 2, 10.10.0.1/24), guest interfaces vif1.0 (3) and vif2.0 (4).
HostView host() {
  HostView h;
  h.ipoib_index = 2;
  h.source = ip("10.10.0.1");
  h.guests = {{3, "vif1.0", 1, 1500, true}, {4, "vif2.0", 1, 1500, true}};
  h.addresses = {{1, ip("127.0.0.1"), 8}, {2, ip("10.10.0.1"), 24}, {5, ip("10.10.0.250"), 24}};
  return h;
}

Route owned(const char* destination, int oif) { return {ip(destination), 32, oif, ip("10.10.0.1"), kRouteProtocol}; }

bool has(const std::vector<std::pair<uint32_t, int>>& v, const char* destination, int oif) {
  return std::find(v.begin(), v.end(), std::pair<uint32_t, int>{ip(destination), oif}) != v.end();
}

bool warns(const std::vector<std::string>& warnings, const std::string& part) {
  return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return w.find(part) != std::string::npos; });
}

bool warns(const RoutePlan& p, const std::string& part) { return warns(p.warnings, part); }

// ib0 (index 2) with 10.10.0.1/16, one guest interface vif1.0 (index 3) already set up.
MemoryHostNet memory_host_with_one_guest() {
  MemoryHostNet h;
  h.link_table = {Link{1, "lo", ARPHRD_LOOPBACK, 65536, true}, Link{2, "ib0", ARPHRD_INFINIBAND, 2044, true},
                  Link{3, "vif1.0", ARPHRD_ETHER, 1500, true}};
  h.address_table = {Address{2, ip("10.10.0.1"), 16}, Address{3, ip("10.10.0.1"), 32}};
  h.ipoib_modes["ib0"] = "datagram";
  return h;
}

RoutingInput routing_input() {
  RoutingInput in;
  in.ipoib_interface = "ib0";
  in.guest_patterns = {"vif*"};
  return in;
}

size_t acts_starting(const std::vector<std::string>& acts, const std::string& prefix) {
  return size_t(std::count_if(acts.begin(), acts.end(), [&](const std::string& a) { return a.rfind(prefix, 0) == 0; }));
}

bool has_route(const MemoryHostNet& h, const char* to, uint8_t protocol) {
  return std::any_of(h.route_table.begin(), h.route_table.end(),
                     [&](const Route& r) { return r.destination == ip(to) && r.protocol == protocol; });
}

}  // namespace

TEST_CASE("plan_routes: without libvirt data none of nodeld's routes is removed", "[route_plan]") {
  HostView h = host();
  h.routes = {owned("10.10.0.5", 3), owned("10.10.0.6", 4)};  // libvirt's guests, from before a restart
  RouteKnowledge k;
  k.guest_addresses["vif2.0"] = {ip("10.10.0.6")};  // configured
  k.libvirt_known = false;
  RoutePlan p = plan_routes(h, k);
  CHECK(p.remove.empty());
  CHECK(p.add.empty());
  CHECK(p.kept == 2);

  // Once libvirt has answered (and does not name 10.10.0.5), its route goes.
  k.libvirt_known = true;
  p = plan_routes(h, k);
  REQUIRE(p.remove.size() == 1);
  CHECK(p.remove[0].destination == ip("10.10.0.5"));
  CHECK(p.kept == 1);
}

TEST_CASE("plan_routes: without libvirt data a route a wanted one supersedes still goes", "[route_plan]") {
  HostView h = host();
  h.routes = {owned("10.10.0.6", 3)};
  RouteKnowledge k;
  k.guest_addresses["vif2.0"] = {ip("10.10.0.6")};
  k.libvirt_known = false;
  RoutePlan p = plan_routes(h, k);
  REQUIRE(p.remove.size() == 1);
  CHECK(has(p.add, "10.10.0.6", 4));
}

TEST_CASE("plan_routes: a foreign /32 to a guest's address is left alone and said", "[route_plan]") {
  HostView h = host();
  h.routes = {{ip("10.10.0.5"), 32, 2, 0, RTPROT_STATIC}, {ip("10.10.0.0"), 24, 2, ip("10.10.0.1"), RTPROT_KERNEL}};
  RouteKnowledge k;
  k.guest_addresses["vif1.0"] = {ip("10.10.0.5")};
  k.guest_addresses["vif2.0"] = {ip("10.10.0.6")};
  RoutePlan p = plan_routes(h, k);
  CHECK(p.remove.empty());
  CHECK(!has(p.add, "10.10.0.5", 3));
  CHECK(has(p.add, "10.10.0.6", 4));
  CHECK(warns(p, "a route to 10.10.0.5/32 that is not nodeld's"));
}

TEST_CASE("plan_routes: learning refuses the host's, the repository's, IPoIB hosts' and other guests' addresses",
          "[route_plan]") {
  HostView h = host();
  RouteKnowledge k;
  k.learn_network = ip("10.10.0.0");
  k.learn_prefix = 24;
  k.reserved = {ip("10.10.0.100")};
  k.guest_addresses["vif9.0"] = {ip("10.10.0.9")};  // known, its interface not here now
  h.neighbours = {{2, ip("10.10.0.101"), NUD_REACHABLE}};  // a storage host on ib0
  h.routes = {owned("10.10.0.7", 4)};  // vif2.0's, learned before
  k.arp_senders = {{3, ip("10.10.0.100")}, {3, ip("10.10.0.1")}, {3, ip("10.10.0.250")}, {3, ip("10.10.0.101")},
                   {3, ip("10.10.0.9")},   {3, ip("10.10.0.7")}, {3, ip("10.20.0.1")},   {3, ip("10.10.0.8")},
                   {4, ip("10.10.0.7")}};
  RoutePlan p = plan_routes(h, k);
  CHECK(warns(p, "vif1.0 claims 10.10.0.100, the repository's address"));
  CHECK(warns(p, "vif1.0 claims 10.10.0.1, an address of this host"));
  CHECK(warns(p, "vif1.0 claims 10.10.0.250, an address of this host"));
  CHECK(warns(p, "vif1.0 claims 10.10.0.101, a host on the IPoIB network"));
  CHECK(warns(p, "vif1.0 claims 10.10.0.9, another guest's address"));
  CHECK(warns(p, "vif1.0 claims 10.10.0.7, the address of guest interface vif2.0"));
  CHECK(!warns(p, "10.20.0.1"));  // outside guest_subnet: ignored, not worth a word
  CHECK(p.learned == std::vector<std::string>{"vif1.0=10.10.0.8", "vif2.0=10.10.0.7"});
  CHECK(p.add == std::vector<std::pair<uint32_t, int>>{{ip("10.10.0.8"), 3}});
  CHECK(p.remove.empty());
  CHECK(p.kept == 1);
}

TEST_CASE("plan_routes: a neighbour entry of a guest interface is learned as before", "[route_plan]") {
  HostView h = host();
  h.neighbours = {{3, ip("10.10.0.8"), NUD_STALE}, {4, ip("10.10.0.8"), NUD_FAILED}};
  RouteKnowledge k;
  k.learn_network = ip("10.10.0.0");
  k.learn_prefix = 25;
  RoutePlan p = plan_routes(h, k);
  CHECK(p.learned == std::vector<std::string>{"vif1.0=10.10.0.8"});
  CHECK(has(p.add, "10.10.0.8", 3));
}

TEST_CASE("arp_sender: the sender of an Ethernet ARP request or reply, nothing else", "[route_plan]") {
  // Ethernet/IPv4 request from 10.10.0.8 (52:54:00:12:34:56) for 10.10.0.100.
  std::vector<unsigned char> request{0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 10, 0, 8,
                                     0, 0, 0, 0,  0, 0, 10, 10, 0, 100};
  auto sender = arp_sender(request.data(), request.size());
  REQUIRE(sender);
  CHECK(ipv4_text(*sender) == "10.10.0.8");
  auto probe = request;  // duplicate address detection: sender 0.0.0.0
  std::fill(probe.begin() + 14, probe.begin() + 18, 0);
  CHECK(!arp_sender(probe.data(), probe.size()));
  auto rarp = request;
  rarp[7] = 3;
  CHECK(!arp_sender(rarp.data(), rarp.size()));
  CHECK(!arp_sender(request.data(), 16));  // cut short
}

// GuestRouter::reconcile on an in-memory host (MemoryHostNet): what it decides and what it does
// about it, without root or namespaces (tests/integration/routing_test.cpp does it on real
// netlink in namespaces). And the null driver: the same reconcile changes nothing.


TEST_CASE("guest router: before libvirt has answered, none of nodeld's routes is removed", "[nodeld][routing]") {
  MemoryHostNet host = memory_host_with_one_guest();
  host.route_table = {owned("10.10.0.5", 3)};
  RoutingInput in = routing_input();  // no guest addresses: libvirt's are not known yet
  in.libvirt_known = false;
  GuestRouter router;
  auto st = router.reconcile(host, in);
  REQUIRE(st);
  CHECK(acts_starting(host.acts, "delete route") == 0);
  CHECK(has_route(host, "10.10.0.5", kRouteProtocol));
  CHECK(st->removed == 0);
  CHECK(st->routes == 1);

  // Once libvirt has answered without that guest, its route is stale and goes.
  in.libvirt_known = true;
  auto known = router.reconcile(host, in);
  REQUIRE(known);
  CHECK(known->removed == 1);
  CHECK(!has_route(host, "10.10.0.5", kRouteProtocol));
}

TEST_CASE("guest router: a foreign route with a guest address's key is left alone", "[nodeld][routing]") {
  MemoryHostNet host = memory_host_with_one_guest();
  const uint8_t static_protocol = 4;  // RTPROT_STATIC: an administrator's
  host.route_table = {Route{ip("10.10.0.5"), 32, 3, 0, static_protocol}};
  RoutingInput in = routing_input();
  in.guest_addresses["vif1.0"] = {ip("10.10.0.5"), ip("10.10.0.6")};
  GuestRouter router;
  auto st = router.reconcile(host, in);
  REQUIRE(st);
  CHECK(acts_starting(host.acts, "delete route") == 0);
  CHECK(acts_starting(host.acts, "add route 10.10.0.5/") == 0);
  CHECK(acts_starting(host.acts, "add route 10.10.0.6/32 dev 3") == 1);
  CHECK(has_route(host, "10.10.0.5", static_protocol));
  CHECK(warns(st->warnings, "10.10.0.5/32 that is not nodeld's"));
}

TEST_CASE("guest router: a guest claiming the host's or the repository's address learns neither", "[nodeld][routing]") {
  MemoryHostNet host = memory_host_with_one_guest();
  RoutingInput in = routing_input();
  in.learn_network = ip("10.10.0.0");
  in.learn_prefix = 16;
  in.reserved = {ip("10.10.0.2")};  // the repository's NFS server
  in.arp_senders = {{3, ip("10.10.0.1")}, {3, ip("10.10.0.2")}, {3, ip("10.10.0.9")}};
  GuestRouter router;
  auto st = router.reconcile(host, in);
  REQUIRE(st);
  CHECK(st->learned == std::vector<std::string>{"vif1.0=10.10.0.9"});
  CHECK(acts_starting(host.acts, "add route ") == 1);
  CHECK(has_route(host, "10.10.0.9", kRouteProtocol));
  CHECK(!has_route(host, "10.10.0.1", kRouteProtocol));
  CHECK(!has_route(host, "10.10.0.2", kRouteProtocol));
  CHECK(warns(st->warnings, "claims 10.10.0.1, an address of this host"));
  CHECK(warns(st->warnings, "claims 10.10.0.2, the repository's address"));
}

TEST_CASE("guest router: through the null driver a reconcile reads the host and changes nothing", "[nodeld][routing]") {
  MemoryHostNet host = memory_host_with_one_guest();
  host.link_table[2].up = false;
  host.route_table = {owned("10.10.0.7", 3)};
  NullHostNet null(host);
  RoutingInput in = routing_input();
  in.guest_addresses["vif1.0"] = {ip("10.10.0.5")};
  GuestRouter router;
  auto st = router.reconcile(null, in);
  REQUIRE(st);
  CHECK(st->guest_interfaces == std::vector<std::string>{"vif1.0"});
  CHECK(acts_starting(null.acts, "add route 10.10.0.5/32 dev 3") == 1);
  CHECK(acts_starting(null.acts, "delete route 10.10.0.7/32 dev 3") == 1);
  CHECK(acts_starting(null.acts, "up dev 3") == 1);
  CHECK(host.acts.empty());
  CHECK(host.route_table.size() == 1);
  CHECK(!host.link_table[2].up);
}
