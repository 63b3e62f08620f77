// GuestRouter::reconcile on an in-memory host (MemoryHostNet): what it decides and what it does
// about it, without root or namespaces (the namespace tests in tests/integration/routing_test.cpp
// do it on real netlink). And the null driver: the same reconcile changes nothing.
#include "catch_result.hpp"
#include "guest_router.hpp"
#include "host_net.hpp"

#include <catch2/catch.hpp>

#include <net/if_arp.h>

#include <algorithm>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

uint32_t ip(const char* text) {
  uint32_t a = 0;
  REQUIRE(parse_ipv4(text, a));
  return a;
}

// ib0 (index 2) with 10.10.0.1/16, one guest interface vif1.0 (index 3) already set up.
MemoryHostNet host_with_one_guest() {
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

Route nodeld_route(const char* to, int oif) { return Route{ip(to), 32, oif, ip("10.10.0.1"), kRouteProtocol}; }

size_t acts_starting(const std::vector<std::string>& acts, const std::string& prefix) {
  return size_t(std::count_if(acts.begin(), acts.end(), [&](const std::string& a) { return a.rfind(prefix, 0) == 0; }));
}

bool has_route(const MemoryHostNet& h, const char* to, uint8_t protocol) {
  return std::any_of(h.route_table.begin(), h.route_table.end(),
                     [&](const Route& r) { return r.destination == ip(to) && r.protocol == protocol; });
}

}  // namespace

TEST_CASE("guest router: before libvirt has answered, none of nodeld's routes is removed", "[nodeld][routing]") {
  MemoryHostNet host = host_with_one_guest();
  host.route_table = {nodeld_route("10.10.0.5", 3)};
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
  MemoryHostNet host = host_with_one_guest();
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
  CHECK(std::any_of(st->warnings.begin(), st->warnings.end(),
                    [](const std::string& w) { return w.find("10.10.0.5/32 that is not nodeld's") != std::string::npos; }));
}

TEST_CASE("guest router: a guest claiming the host's or the repository's address learns neither", "[nodeld][routing]") {
  MemoryHostNet host = host_with_one_guest();
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
  auto warned = [&](const std::string& what) {
    return std::any_of(st->warnings.begin(), st->warnings.end(), [&](const std::string& w) { return w.find(what) != std::string::npos; });
  };
  CHECK(warned("claims 10.10.0.1, an address of this host"));
  CHECK(warned("claims 10.10.0.2, the repository's address"));
}

TEST_CASE("guest router: through the null driver a reconcile reads the host and changes nothing", "[nodeld][routing]") {
  MemoryHostNet host = host_with_one_guest();
  host.link_table[2].up = false;
  host.route_table = {nodeld_route("10.10.0.7", 3)};
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
