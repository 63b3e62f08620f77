// Who sends ARP on the host's interfaces, from a packet socket (AF_PACKET, ETH_P_ARP; needs
// CAP_NET_RAW). This is how a guest whose address is to be learned (guest_subnet) makes itself
// known: its interface has strict reverse-path filtering from the first packet, so the kernel
// neither answers nor records a sender it has no route back to, but the packet socket sees the
// request before the filter drops it. The router then decides whether the address may be
// learned (plan_routes); this class only remembers what was seen.
#pragma once

#include "error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace smartvm::nodeld {

// The sender address (network order) of an ARP request or reply as a SOCK_DGRAM packet socket
// gives it (no link header); none for anything else, and for a probe's 0.0.0.0.
std::optional<uint32_t> arp_sender(const unsigned char* data, size_t size);

class ArpWatcher {
 public:
  // The newest this many senders are kept per interface: a guest that cycles through
  // addresses cannot grow the list.
  static constexpr size_t kPerInterface = 16;

  // `on_new` runs on the loop, once per burst, when a sender not seen before turns up.
  ArpWatcher(boost::asio::io_context& io, std::function<void()> on_new);
  ~ArpWatcher();
  ArpWatcher(const ArpWatcher&) = delete;
  ArpWatcher& operator=(const ArpWatcher&) = delete;

  Result<void> start();
  // Only requests on these interfaces (the guests', by index) are kept; the IPoIB side's
  // traffic, a busy fabric's, is no candidate and must not start reconciles.
  void set_interfaces(std::set<int> indexes);
  // (interface index, sender address) of every request seen, oldest first per interface.
  std::vector<std::pair<int, uint32_t>> senders() const;

 private:
  void wait();

  std::function<void()> on_new_;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer settle_;
  bool settling_ = false;
  std::set<int> interfaces_;
  std::map<int, std::deque<uint32_t>> seen_;
};

}  // namespace smartvm::nodeld
