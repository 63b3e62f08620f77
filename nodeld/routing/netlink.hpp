// The host's links, IPv4 addresses and routes through rtnetlink (libmnl): what the guest
// router reads and changes. Never by running `ip`: changes go as requests with NLM_F_ACK, many
// in one sendmsg (apply), and each request's acknowledgement or error is read back and matched
// to it by its sequence number.
#pragma once

#include "error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

struct mnl_socket;

namespace smartvm::nodeld {

// The route protocol number nodeld marks its routes with (/etc/iproute2/rt_protos.d/smartvm.conf
// names it); routes with another protocol are never touched.
inline constexpr uint8_t kRouteProtocol = 215;

struct Link {
  int index = 0;
  std::string name;
  unsigned type = 0;  // ARPHRD_*: 32 is InfiniBand
  unsigned mtu = 0;
  bool up = false;
};

// A link's IPv4 settings (IFLA_INET_CONF), those of net/ipv4/conf/NAME: IPV4_DEVCONF_X at X - 1.
struct LinkIpv4Conf {
  int index = 0;
  std::string name;
  std::vector<uint32_t> values;
};

struct Address {
  int index = 0;
  uint32_t address = 0;  // network order
  unsigned prefix = 0;
};

struct Route {
  uint32_t destination = 0;  // network order
  unsigned prefix = 0;
  int oif = 0;
  uint32_t source = 0;  // preferred source, network order; 0: none
  uint8_t protocol = 0;
};

struct Neighbour {
  int index = 0;
  uint32_t address = 0;  // network order
  uint16_t state = 0;    // NUD_*
};

// The changes Netlink makes, one request each.
struct LinkUp {
  int index = 0;
};
struct AddAddress {
  int index = 0;
  uint32_t address = 0;  // network order
  unsigned prefix = 0;
};
// DESTINATION/32 dev OIF src SOURCE proto smartvm, scope link; a route with the same key
// (destination, table, metric 0) that is already there, whoever's, is an error.
struct AddRoute {
  uint32_t destination = 0;  // network order
  int oif = 0;
  uint32_t source = 0;
};
struct DeleteRoute {
  Route route;
};
// One of a link's IPv4 settings (IPV4_DEVCONF_*, net/ipv4/conf/NAME/...), as writing its file
// sets it, but without the RTM_NEWNETCONF notice.
struct SetIpv4Conf {
  int index = 0;
  int key = 0;
  uint32_t value = 0;
};
using NetChange = std::variant<LinkUp, AddAddress, AddRoute, DeleteRoute, SetIpv4Conf>;

// How a change's error begins: "route 10.10.0.5/32", "set link 3 up".
std::string describe(const NetChange& change);

class Netlink {
 public:
  static Result<Netlink> open();
  Netlink(Netlink&& o) noexcept : nl_(o.nl_), seq_(o.seq_), in_flight_(o.in_flight_) { o.nl_ = nullptr; }
  Netlink& operator=(Netlink&&) = delete;
  ~Netlink();

  Result<std::vector<Link>> links();
  Result<std::vector<LinkIpv4Conf>> ipv4_conf();
  Result<std::vector<Address>> addresses();
  // Routes of the main table.
  Result<std::vector<Route>> routes();
  // IPv4 neighbours (the ARP table).
  Result<std::vector<Neighbour>> neighbours();

  // Makes the changes in their order, as few sendmsg calls as the socket's buffers allow, and
  // says for each whether it was made: one that fails is reported by its own description and
  // neither stops nor undoes the others (the kernel handles each request on its own).
  std::vector<Result<void>> apply(const std::vector<NetChange>& changes);

  Result<void> add_address(int index, uint32_t address, unsigned prefix);
  Result<void> set_up(int index);
  Result<void> add_route(uint32_t destination, int oif, uint32_t source);
  Result<void> delete_route(const Route& r);

 private:
  explicit Netlink(mnl_socket* nl) : nl_(nl) {}
  // A whole dump; `reset` empties what `parse` gathered before an interrupted dump is made again.
  template <typename Parse, typename Reset>
  Result<void> dump(uint16_t type, unsigned char family, Parse parse, Reset reset);
  Result<void> one(const NetChange& change);
  // Sends changes [first, end), whose requests lie back to back in `messages` with sequence
  // numbers from base + first, and reads their acknowledgements into `results`.
  void send_batch(const void* messages, size_t length, const std::vector<NetChange>& changes, uint32_t base, size_t first,
                  size_t end, std::vector<Result<void>>& results);

  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 1;
  size_t in_flight_ = 64;  // requests in one sendmsg: their acknowledgements fit the receive buffer
};

std::string ipv4_text(uint32_t address);  // network order -> "10.10.0.5"
bool parse_ipv4(const std::string& text, uint32_t& address);

}  // namespace smartvm::nodeld
