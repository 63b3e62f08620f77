#include "netlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace smartvm::nodeld {

namespace {

// Attributes of one message by type, for the parsers below.
struct Attributes {
  const nlattr* by_type[64] = {};
};

int collect_attribute(const nlattr* attr, void* data) {
  auto* a = static_cast<Attributes*>(data);
  unsigned type = mnl_attr_get_type(attr);
  if (type < 64) a->by_type[type] = attr;
  return MNL_CB_OK;
}

}  // namespace

std::string ipv4_text(uint32_t address) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, buf, sizeof buf);
  return buf;
}

bool parse_ipv4(const std::string& text, uint32_t& address) { return inet_pton(AF_INET, text.c_str(), &address) == 1; }

Result<Netlink> Netlink::open() {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (!nl) return os_error("netlink socket");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    Error e = os_error("netlink bind");
    mnl_socket_close(nl);
    return e;
  }
  Netlink n(nl);
  n.seq_ = static_cast<uint32_t>(time(nullptr));
  return n;
}

Netlink::~Netlink() {
  if (nl_) mnl_socket_close(nl_);
}

template <typename Parse, typename Reset>
Result<void> Netlink::dump(uint16_t type, unsigned char family, Parse parse, Reset reset) {
  // The kernel marks a dump during which the table changed with NLM_F_DUMP_INTR: what was
  // read may be inconsistent (an entry missed or seen twice). It is read to its end and made
  // again, a few times at most; a table that never holds still for that long is an error.
  constexpr int kAttempts = 5;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t portid = mnl_socket_get_portid(nl_);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    reset();
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    uint32_t seq = ++seq_;
    nlh->nlmsg_seq = seq;
    auto* gen = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
    gen->rtgen_family = family;
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return os_error("netlink dump request");
    bool interrupted = false, done = false;
    while (!done) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;  // a signal, not the dump: read on
      if (n < 0) return os_error("netlink dump");
      int len = int(n);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
        if (m->nlmsg_seq != seq || (m->nlmsg_pid && m->nlmsg_pid != portid)) continue;  // a stale answer
        if (m->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (m->nlmsg_type == NLMSG_ERROR) {
          auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
          errno = e->error < 0 ? -e->error : EPROTO;
          return os_error("netlink dump");
        }
        if (m->nlmsg_type >= NLMSG_MIN_TYPE && !interrupted) parse(m);
      }
    }
    if (!interrupted) return {};
  }
  errno = EINTR;
  return os_error("netlink dump interrupted " + std::to_string(kAttempts) + " times by changes");
}

Result<std::vector<Link>> Netlink::links() {
  std::vector<Link> out;
  auto parse = [&](const nlmsghdr* m) {
    auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
    Attributes a;
    mnl_attr_parse(m, sizeof(*ifi), collect_attribute, &a);
    Link l;
    l.index = ifi->ifi_index;
    l.type = ifi->ifi_type;
    l.up = ifi->ifi_flags & IFF_UP;
    if (a.by_type[IFLA_IFNAME]) l.name = mnl_attr_get_str(a.by_type[IFLA_IFNAME]);
    if (a.by_type[IFLA_MTU]) l.mtu = mnl_attr_get_u32(a.by_type[IFLA_MTU]);
    out.push_back(std::move(l));
  };
  if (auto r = dump(RTM_GETLINK, AF_UNSPEC, parse, [&] { out.clear(); }); !r) return r.error();
  return out;
}

Result<std::vector<Address>> Netlink::addresses() {
  std::vector<Address> out;
  auto parse = [&](const nlmsghdr* m) {
    auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    if (ifa->ifa_family != AF_INET) return;
    Attributes a;
    mnl_attr_parse(m, sizeof(*ifa), collect_attribute, &a);
    const nlattr* addr = a.by_type[IFA_LOCAL] ? a.by_type[IFA_LOCAL] : a.by_type[IFA_ADDRESS];
    if (!addr) return;
    out.push_back({int(ifa->ifa_index), mnl_attr_get_u32(addr), ifa->ifa_prefixlen});
  };
  if (auto r = dump(RTM_GETADDR, AF_INET, parse, [&] { out.clear(); }); !r) return r.error();
  return out;
}

Result<std::vector<Route>> Netlink::routes() {
  std::vector<Route> out;
  auto parse = [&](const nlmsghdr* m) {
    auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(m));
    if (rtm->rtm_family != AF_INET || rtm->rtm_table != RT_TABLE_MAIN) return;
    Attributes a;
    mnl_attr_parse(m, sizeof(*rtm), collect_attribute, &a);
    Route r;
    r.prefix = rtm->rtm_dst_len;
    r.protocol = rtm->rtm_protocol;
    if (a.by_type[RTA_DST]) r.destination = mnl_attr_get_u32(a.by_type[RTA_DST]);
    if (a.by_type[RTA_OIF]) r.oif = int(mnl_attr_get_u32(a.by_type[RTA_OIF]));
    if (a.by_type[RTA_PREFSRC]) r.source = mnl_attr_get_u32(a.by_type[RTA_PREFSRC]);
    out.push_back(r);
  };
  if (auto r = dump(RTM_GETROUTE, AF_INET, parse, [&] { out.clear(); }); !r) return r.error();
  return out;
}

Result<std::vector<Neighbour>> Netlink::neighbours() {
  std::vector<Neighbour> out;
  auto parse = [&](const nlmsghdr* m) {
    auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(m));
    if (nd->ndm_family != AF_INET) return;
    Attributes a;
    mnl_attr_parse(m, sizeof(*nd), collect_attribute, &a);
    if (!a.by_type[NDA_DST]) return;
    out.push_back({nd->ndm_ifindex, mnl_attr_get_u32(a.by_type[NDA_DST]), nd->ndm_state});
  };
  if (auto r = dump(RTM_GETNEIGH, AF_INET, parse, [&] { out.clear(); }); !r) return r.error();
  return out;
}

Result<void> Netlink::request(void* message, const std::string& what) {
  auto* nlh = static_cast<nlmsghdr*>(message);
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  uint32_t seq = ++seq_;
  nlh->nlmsg_seq = seq;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return os_error(what);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error(what);
    // The acknowledgement is an NLMSG_ERROR with error 0; mnl_cb_run turns a non-zero one into
    // -1 with errno set.
    int r = mnl_cb_run(buf.data(), size_t(n), seq, mnl_socket_get_portid(nl_), nullptr, nullptr);
    if (r < 0) return os_error(what);
    if (r == MNL_CB_STOP) return {};
  }
}

Result<void> Netlink::add_address(int index, uint32_t address, unsigned prefix) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = unsigned(index);
  mnl_attr_put_u32(nlh, IFA_LOCAL, address);
  mnl_attr_put_u32(nlh, IFA_ADDRESS, address);
  return request(nlh, "add address " + ipv4_text(address) + "/" + std::to_string(prefix));
}

Result<void> Netlink::set_up(int index) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return request(nlh, "set link " + std::to_string(index) + " up");
}

Result<void> Netlink::add_route(uint32_t destination, int oif, uint32_t source) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWROUTE;
  // Never NLM_F_REPLACE: it would take over whatever route has the same key, an
  // administrator's as well. nodeld removes its own stale route first; anybody else's makes
  // this fail with EEXIST.
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 32;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = kRouteProtocol;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(nlh, RTA_DST, destination);
  mnl_attr_put_u32(nlh, RTA_OIF, uint32_t(oif));
  if (source) mnl_attr_put_u32(nlh, RTA_PREFSRC, source);
  return request(nlh, "route " + ipv4_text(destination) + "/32");
}

Result<void> Netlink::delete_route(const Route& r) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_DELROUTE;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<unsigned char>(r.prefix);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = r.protocol;
  rtm->rtm_scope = RT_SCOPE_NOWHERE;
  mnl_attr_put_u32(nlh, RTA_DST, r.destination);
  if (r.oif) mnl_attr_put_u32(nlh, RTA_OIF, uint32_t(r.oif));
  return request(nlh, "delete route " + ipv4_text(r.destination) + "/" + std::to_string(r.prefix));
}

}  // namespace smartvm::nodeld
