#include "repository_probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace smartvm::nodeld {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct Probe : std::enable_shared_from_this<Probe> {
  Probe(asio::io_context& io, std::function<void(ProbeResult)> d) : resolver(io), socket(io), timer(io), done(std::move(d)) {}
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer timer;
  std::function<void(ProbeResult)> done;
  ProbeResult result;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  bool finished = false;

  void finish(const std::string& error) {
    if (finished) return;
    finished = true;
    timer.cancel();
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    result.reachable = error.empty();
    result.error = error;
    result.connect_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    done(result);
  }
};

}  // namespace

void probe_repository(asio::io_context& io, const std::string& target, std::chrono::milliseconds deadline,
                      std::function<void(ProbeResult)> done) {
  auto p = std::make_shared<Probe>(io, std::move(done));
  p->result.target = target;
  size_t colon = target.rfind(':');
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  p->timer.expires_after(deadline);
  p->timer.async_wait([p, deadline](const boost::system::error_code& ec) {
    if (!ec) p->finish("no connection within " + std::to_string(deadline.count()) + " ms");
  });
  p->resolver.async_resolve(host, port, [p](const boost::system::error_code& ec, tcp::resolver::results_type hosts) {
    if (p->finished) return;
    if (ec) return p->finish("cannot resolve: " + ec.message());
    asio::async_connect(p->socket, hosts, [p](const boost::system::error_code& ec2, const tcp::endpoint&) {
      p->finish(ec2 ? ec2.message() : "");
    });
  });
}

}  // namespace smartvm::nodeld
