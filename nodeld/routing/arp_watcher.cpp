#include "arp_watcher.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace smartvm::nodeld {

std::optional<uint32_t> arp_sender(const unsigned char* data, size_t size) {
  arphdr h{};
  if (size < sizeof h) return std::nullopt;
  std::memcpy(&h, data, sizeof h);
  unsigned op = ntohs(h.ar_op);
  if (ntohs(h.ar_pro) != ETH_P_IP || h.ar_pln != 4 || (op != ARPOP_REQUEST && op != ARPOP_REPLY)) return std::nullopt;
  size_t at = sizeof h + h.ar_hln;  // sender hardware address, then sender protocol address
  if (size < at + 4) return std::nullopt;
  uint32_t sender = 0;
  std::memcpy(&sender, data + at, 4);
  if (sender == 0) return std::nullopt;
  return sender;
}

ArpWatcher::ArpWatcher(boost::asio::io_context& io, std::function<void()> on_new)
    : on_new_(std::move(on_new)), fd_(io), settle_(io) {}

ArpWatcher::~ArpWatcher() {
  settle_.cancel();
  if (fd_.is_open()) {
    boost::system::error_code ignored;
    fd_.close(ignored);
  }
}

Result<void> ArpWatcher::start() {
  int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ARP));
  if (fd < 0) return os_error("packet socket for ARP");
  fd_.assign(fd);
  wait();
  return {};
}

void ArpWatcher::set_interfaces(std::set<int> indexes) {
  interfaces_ = std::move(indexes);
  std::erase_if(seen_, [&](const auto& entry) { return !interfaces_.count(entry.first); });  // gone with their interface
}

std::vector<std::pair<int, uint32_t>> ArpWatcher::senders() const {
  std::vector<std::pair<int, uint32_t>> out;
  for (const auto& [index, addresses] : seen_)
    for (uint32_t a : addresses) out.push_back({index, a});
  return out;
}

void ArpWatcher::wait() {
  fd_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    bool fresh = false;
    unsigned char buf[256];
    for (;;) {
      sockaddr_ll from{};
      socklen_t len = sizeof from;
      ssize_t n = ::recvfrom(fd_.native_handle(), buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) break;  // EAGAIN: drained (an error here is retried at the next packet)
      // The host's own requests and proxy answers leave through the same interfaces: only
      // what a guest sent counts.
      if (from.sll_pkttype == PACKET_OUTGOING || !interfaces_.count(from.sll_ifindex)) continue;
      auto sender = arp_sender(buf, std::min(size_t(n), sizeof buf));
      if (!sender) continue;
      auto& list = seen_[from.sll_ifindex];
      if (std::find(list.begin(), list.end(), *sender) != list.end()) continue;
      list.push_back(*sender);
      if (list.size() > kPerInterface) list.pop_front();
      fresh = true;
    }
    if (fresh && !settling_) {
      settling_ = true;
      settle_.expires_after(std::chrono::milliseconds(20));
      settle_.async_wait([this](const boost::system::error_code& e) {
        settling_ = false;
        if (!e) on_new_();
      });
    }
    wait();
  });
}

}  // namespace smartvm::nodeld
