#include "netlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

namespace smartvm::nodeld {

namespace {

// The most one request takes: a header, the family's header and three u32 attributes.
constexpr size_t kMaxRequest = 128;
// The bytes of requests in one sendmsg, far below the socket's send buffer (which bounds a
// netlink message the kernel accepts).
constexpr size_t kBatchBytes = 64 * 1024;
// Requests in one sendmsg. The kernel handles them one by one inside that sendmsg and queues an
// acknowledgement for each on our socket; one that finds the receive buffer full is dropped
// (the socket then says ENOBUFS once, and the failures of the changes still unanswered are
// reported as such, but the fate of each is no longer known). So no more are sent at once than
// their acknowledgements surely fit in: each is a
// buffer of its own, under 1 KiB of accounting (measured: 220 fit in the default 208 KiB), and
// twice that is counted. The buffer is raised at open where allowed.
constexpr size_t kAckAccounting = 2048;
constexpr int kReceiveBuffer = 1 << 20;
// One read of a dump.
constexpr size_t kDumpRead = 32 * 1024;
// The room one acknowledgement is read into: 36 bytes with NETLINK_CAP_ACK.
constexpr size_t kAckRoom = 256;

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

// The attributes nested in `nest`, each handed to `fn`.
template <typename Fn>
void each_nested(const nlattr* nest, Fn fn) {
  const auto* end = static_cast<const char*>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
  for (const auto* a = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
       mnl_attr_ok(a, int(end - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
    fn(a);
}

// IFLA_AF_SPEC's AF_INET part: IFLA_INET_CONF, an array of u32.
void read_ipv4_conf(const nlattr* af_spec, std::vector<uint32_t>& conf) {
  each_nested(af_spec, [&](const nlattr* family) {
    if (mnl_attr_get_type(family) != AF_INET) return;
    each_nested(family, [&](const nlattr* attr) {
      if (mnl_attr_get_type(attr) != IFLA_INET_CONF) return;
      const auto* values = static_cast<const uint32_t*>(mnl_attr_get_payload(attr));
      conf.assign(values, values + mnl_attr_get_payload_len(attr) / sizeof(uint32_t));
    });
  });
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
  // An error's acknowledgement carries only the request's header, not the whole request.
  int on = 1;
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof on);
  Netlink n(nl);
  // Room for many acknowledgements at once (see kAckAccounting): forced as root, else as much
  // of it as net.core.rmem_max allows; what the kernel granted sets how many go together.
  int fd = mnl_socket_get_fd(nl), size = kReceiveBuffer, granted = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  socklen_t length = sizeof granted;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0 && granted > 0)
    n.in_flight_ = std::max<size_t>(1, size_t(granted) / kAckAccounting);
  // The kernel answers at once; an answer that never comes (lost however it was) must fail
  // the changes still waiting, not hold the daemon's routing forever.
  timeval answer_within{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &answer_within, sizeof answer_within);
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
  // The kernel fills each part of a dump up to the largest read it has seen from this socket
  // (at most 32 KiB): a link with its IPv6 settings and counters takes 2-3 KiB, so with the
  // usual 8 KiB a dump of 2000 links took about a thousand reads.
  std::vector<char> buf(kDumpRead);
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

Result<std::vector<LinkIpv4Conf>> Netlink::ipv4_conf() {
  std::vector<LinkIpv4Conf> out;
  auto parse = [&](const nlmsghdr* m) {
    auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m));
    Attributes a;
    mnl_attr_parse(m, sizeof(*ifi), collect_attribute, &a);
    if (!a.by_type[IFLA_IFNAME] || !a.by_type[IFLA_AF_SPEC]) return;
    LinkIpv4Conf c{ifi->ifi_index, mnl_attr_get_str(a.by_type[IFLA_IFNAME]), {}};
    read_ipv4_conf(a.by_type[IFLA_AF_SPEC], c.values);
    out.push_back(std::move(c));
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

std::string describe(const NetChange& change) {
  struct Describe {
    std::string operator()(const LinkUp& c) const { return "set link " + std::to_string(c.index) + " up"; }
    std::string operator()(const AddAddress& c) const {
      return "add address " + ipv4_text(c.address) + "/" + std::to_string(c.prefix);
    }
    std::string operator()(const AddRoute& c) const { return "route " + ipv4_text(c.destination) + "/32"; }
    std::string operator()(const DeleteRoute& c) const {
      return "delete route " + ipv4_text(c.route.destination) + "/" + std::to_string(c.route.prefix);
    }
    std::string operator()(const SetIpv4Conf& c) const {
      return "set IPv4 setting " + std::to_string(c.key) + " of link " + std::to_string(c.index);
    }
  };
  return std::visit(Describe{}, change);
}

namespace {

class PutChange {
 public:
  explicit PutChange(nlmsghdr* nlh) : nlh_(nlh) {}

  void operator()(const LinkUp& c) const {
    nlh_->nlmsg_type = RTM_NEWLINK;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = c.index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
  }
  void operator()(const AddAddress& c) const {
    nlh_->nlmsg_type = RTM_NEWADDR;
    nlh_->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = static_cast<unsigned char>(c.prefix);
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = unsigned(c.index);
    mnl_attr_put_u32(nlh_, IFA_LOCAL, c.address);
    mnl_attr_put_u32(nlh_, IFA_ADDRESS, c.address);
  }
  void operator()(const AddRoute& c) const {
    nlh_->nlmsg_type = RTM_NEWROUTE;
    // Never NLM_F_REPLACE: it would take over whatever route has the same key, an
    // administrator's as well. nodeld removes its own stale route first (earlier in the same
    // batch, and the kernel keeps the order); anybody else's makes this fail with EEXIST.
    nlh_->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = 32;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = kRouteProtocol;
    rtm->rtm_scope = RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put_u32(nlh_, RTA_DST, c.destination);
    mnl_attr_put_u32(nlh_, RTA_OIF, uint32_t(c.oif));
    if (c.source) mnl_attr_put_u32(nlh_, RTA_PREFSRC, c.source);
  }
  void operator()(const DeleteRoute& c) const {
    const Route& r = c.route;
    nlh_->nlmsg_type = RTM_DELROUTE;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(rtmsg)));
    rtm->rtm_family = AF_INET;
    rtm->rtm_dst_len = static_cast<unsigned char>(r.prefix);
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = r.protocol;
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
    mnl_attr_put_u32(nlh_, RTA_DST, r.destination);
    if (r.oif) mnl_attr_put_u32(nlh_, RTA_OIF, uint32_t(r.oif));
  }
  void operator()(const SetIpv4Conf& c) const {
    nlh_->nlmsg_type = RTM_NEWLINK;
    auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = c.index;
    nlattr* af_spec = mnl_attr_nest_start(nlh_, IFLA_AF_SPEC);
    nlattr* inet = mnl_attr_nest_start(nlh_, AF_INET);
    nlattr* conf = mnl_attr_nest_start(nlh_, IFLA_INET_CONF);
    mnl_attr_put_u32(nlh_, uint16_t(c.key), c.value);
    mnl_attr_nest_end(nlh_, conf);
    mnl_attr_nest_end(nlh_, inet);
    mnl_attr_nest_end(nlh_, af_spec);
  }

 private:
  nlmsghdr* nlh_;
};

}  // namespace

std::vector<Result<void>> Netlink::apply(const std::vector<NetChange>& changes) {
  std::vector<Result<void>> results(changes.size());
  // mnl_nlmsg_batch lets the last message run past its limit, which then starts the next batch.
  std::vector<char> buf(kBatchBytes + kMaxRequest);
  mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), kBatchBytes);
  uint32_t base = seq_ + 1;  // change i has sequence number base + i
  seq_ += uint32_t(changes.size());
  size_t first = 0;  // the first change in the batch being filled
  for (size_t i = 0; i < changes.size(); ++i) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch));
    std::visit(PutChange(nlh), changes[i]);
    nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = base + uint32_t(i);
    if (!mnl_nlmsg_batch_next(batch)) {  // change i did not fit: the batch goes without it
      send_batch(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), changes, base, first, i, results);
      mnl_nlmsg_batch_reset(batch);  // and starts again with it
      first = i;
    }
    if (i + 1 - first == in_flight_) {
      send_batch(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), changes, base, first, i + 1, results);
      mnl_nlmsg_batch_reset(batch);
      first = i + 1;
    }
  }
  if (first < changes.size())
    send_batch(mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch), changes, base, first, changes.size(), results);
  mnl_nlmsg_batch_stop(batch);
  return results;
}

void Netlink::send_batch(const void* messages, size_t length, const std::vector<NetChange>& changes, uint32_t base,
                         size_t first, size_t end, std::vector<Result<void>>& results) {
  auto fail_unanswered = [&](const std::vector<bool>& answered, int err) {
    for (size_t k = first; k < end; ++k)
      if (!answered[k - first]) results[k] = os_error(describe(changes[k]), err);
  };
  std::vector<bool> answered(end - first);
  if (mnl_socket_sendto(nl_, messages, length) < 0) {
    fail_unanswered(answered, errno);
    return;
  }
  // The kernel has handled every request by now and queued their acknowledgements: read them
  // together, as many as are there in each call.
  size_t waiting = end - first;
  std::vector<char> room(waiting * kAckRoom);
  std::vector<iovec> iov(waiting);
  std::vector<mmsghdr> msgs(waiting);
  std::vector<sockaddr_nl> from(waiting);
  uint32_t portid = mnl_socket_get_portid(nl_);
  while (waiting) {
    for (size_t j = 0; j < waiting; ++j) {
      iov[j] = {room.data() + j * kAckRoom, kAckRoom};
      msgs[j] = {};
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
      msgs[j].msg_hdr.msg_name = &from[j];
      msgs[j].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
    }
    int got = recvmmsg(mnl_socket_get_fd(nl_), msgs.data(), unsigned(waiting), MSG_WAITFORONE, nullptr);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {  // ENOBUFS: acknowledgements were lost, whether those requests were made is unknown
      fail_unanswered(answered, errno);
      return;
    }
    for (int j = 0; j < got; ++j) {
      if (from[size_t(j)].nl_pid != 0) continue;  // not the kernel's
      int len = int(msgs[size_t(j)].msg_len);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(room.data() + size_t(j) * kAckRoom); mnl_nlmsg_ok(m, len);
           m = mnl_nlmsg_next(m, &len)) {
        size_t k = m->nlmsg_seq - base;  // wraps to a huge number below base: a stale answer
        if (m->nlmsg_type != NLMSG_ERROR || (m->nlmsg_pid && m->nlmsg_pid != portid) || k < first || k >= end ||
            answered[k - first])
          continue;
        answered[k - first] = true;
        --waiting;
        // The acknowledgement is an NLMSG_ERROR with error 0; a failure carries -errno.
        auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (e->error) results[k] = os_error(describe(changes[k]), e->error < 0 ? -e->error : EPROTO);
      }
    }
  }
}

Result<void> Netlink::one(const NetChange& change) { return std::move(apply({change}).front()); }

Result<void> Netlink::add_address(int index, uint32_t address, unsigned prefix) { return one(AddAddress{index, address, prefix}); }

Result<void> Netlink::set_up(int index) { return one(LinkUp{index}); }

Result<void> Netlink::add_route(uint32_t destination, int oif, uint32_t source) { return one(AddRoute{destination, oif, source}); }

Result<void> Netlink::delete_route(const Route& r) { return one(DeleteRoute{r}); }

}  // namespace smartvm::nodeld
