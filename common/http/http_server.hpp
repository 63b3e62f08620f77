// A small HTTP/1.1 server (Boost.Beast) on one Asio thread, for the frontend's API and nodeld's
// /metrics. The handler is a plain interface from request to response, so every route is tested
// without a socket.
//
// What a client can hold is bounded, so that idle or slow clients cannot starve the others:
// - a request's header must arrive within the header timeout (which is also how long an idle
//   keep-alive connection stays open), its body and the answer within the body timeout;
// - the handler sees the header before the body is read (check_header), so a request without
//   the right credential, or over the body limit, is answered at once and its body never read;
// - at most max_sessions connections are served at once, below the file descriptor limit; past
//   it the connection that has waited longest for a request is closed for the new one (a new
//   connection is refused when none waits);
// - when accept() fails (EMFILE, ENFILE, ENOBUFS) the server closes the longest-idle connection
//   and backs off instead of retrying at once, which would spin; it says so at most once a minute.
#pragma once

#include "error.hpp"
#include "log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace smartvm {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpHandler {
 public:
  using Reply = std::function<void(HttpResponse)>;
  virtual ~HttpHandler() = default;
  // `now`: Unix seconds when the request was read.
  virtual HttpResponse handle(const HttpRequest& req, int64_t now) = 0;
  // The server calls this one: a handler whose answer must wait (a report is acknowledged only
  // once it is on disk) calls `reply` later, on the server's thread; the connection reads no
  // further request until then. By default, handle()'s answer at once.
  virtual void handle_async(const HttpRequest& req, int64_t now, Reply reply) { reply(handle(req, now)); }
  // Called with the request's header (its body not read yet): an answer returned here is sent
  // instead of reading the body and calling handle(), and the connection closes after it.
  virtual std::optional<HttpResponse> check_header(const HttpRequest&) { return std::nullopt; }
  // The answer to a body the server refused before reading it (over body_limit()).
  virtual HttpResponse refuse_oversized(unsigned version, bool keep_alive) = 0;
  virtual size_t body_limit() const = 0;
};

struct HttpServerLimits {
  // Connections served at once; 0: the soft RLIMIT_NOFILE minus kReservedFds (at least 8).
  size_t max_sessions = 0;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
};

// File descriptors left to the rest of the process (a database, libvirt, netlink, logs).
inline constexpr size_t kReservedFds = 64;

// max_sessions as given, or derived from the process's file descriptor limit.
size_t effective_max_sessions(const HttpServerLimits& limits);

class HttpServer {
 public:
  // `say`: where the server's own troubles go (a handler that threw, accept() failing).
  HttpServer(boost::asio::io_context& io, HttpHandler& handler, HttpServerLimits limits = {}, log::Say say = {});
  ~HttpServer();
  // Binds and starts accepting; returns the bound endpoint (port 0 picks a free port).
  Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  void stop();

  struct Sessions;  // the live connections, shared with them (they may outlive the server)

 private:
  void accept();

  HttpHandler& handler_;
  HttpServerLimits limits_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_timer_;
  std::chrono::milliseconds backoff_{0};
  uint64_t accept_failures_ = 0;
  std::optional<std::chrono::steady_clock::time_point> last_accept_warning_;
  std::shared_ptr<Sessions> sessions_;
};

// "127.0.0.1:8650", "[::1]:8650", "0.0.0.0:8650".
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& s);

}  // namespace smartvm
