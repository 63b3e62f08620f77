#include "link_watcher.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace smartvm::nodeld {

LinkWatcher::LinkWatcher(boost::asio::io_context& io, std::function<void()> on_change)
    : on_change_(std::move(on_change)), fd_(io), settle_(io) {}

LinkWatcher::~LinkWatcher() {
  settle_.cancel();
  if (fd_.is_open()) {
    fd_.cancel();
    fd_.release();  // mnl_socket_close closes it
  }
  if (nl_) mnl_socket_close(nl_);
}

Result<void> LinkWatcher::start() {
  nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (!nl_) return os_error("netlink socket for link events");
  if (mnl_socket_bind(nl_, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_NEIGH, MNL_SOCKET_AUTOPID) < 0)
    return os_error("netlink link events");
  // Room for a VM start's burst on a busy host; an overflow (ENOBUFS) is survived anyway.
  int size = 1 << 20;
  setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  fd_.assign(mnl_socket_get_fd(nl_));
  wait();
  return {};
}

void LinkWatcher::wait() {
  fd_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;
    // What changed does not matter: the reconcile reads the whole state anyway (fresh dumps).
    // That is also the resynchronisation after ENOBUFS, when the kernel dropped events this
    // socket had no room for: the socket is drained past the error and a reconcile follows
    // all the same. Drain, then act once the burst is over.
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS))) continue;
      break;  // EAGAIN: drained
    }
    if (!settling_) {
      settling_ = true;
      settle_.expires_after(std::chrono::milliseconds(50));
      settle_.async_wait([this](const boost::system::error_code& e) {
        settling_ = false;
        if (!e) on_change_();
      });
    }
    wait();
  });
}

}  // namespace smartvm::nodeld
