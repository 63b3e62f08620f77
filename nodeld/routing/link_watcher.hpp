// Tells the daemon when interfaces, IPv4 addresses or neighbours change (rtnetlink multicast
// groups), so
// that a guest's interface appearing or going is routed at once, not at the next interval. The
// netlink socket is watched by the Asio loop; bursts (a VM start brings several messages) are
// coalesced into one call after a short delay.
#pragma once

#include "error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>

struct mnl_socket;

namespace smartvm::nodeld {

class LinkWatcher {
 public:
  LinkWatcher(boost::asio::io_context& io, std::function<void()> on_change);
  ~LinkWatcher();
  LinkWatcher(const LinkWatcher&) = delete;
  LinkWatcher& operator=(const LinkWatcher&) = delete;

  Result<void> start();

 private:
  void wait();

  std::function<void()> on_change_;
  mnl_socket* nl_ = nullptr;
  boost::asio::posix::stream_descriptor fd_;
  boost::asio::steady_timer settle_;
  bool settling_ = false;
};

}  // namespace smartvm::nodeld
