#include "http_server.hpp"

#include "log.hpp"
#include "parse_number.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <list>

namespace smartvm {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Bodies up to this size are read (and dropped) after a refusal from the header.
constexpr uint64_t kDrainLimit = 64 * 1024;
// Each connection's read buffer, kept while it lives.
constexpr size_t kReadBuffer = 16 * 1024;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Session;

}  // namespace

struct HttpServer::Sessions {
  log::Say say;                             // the server's, for its sessions' troubles
  size_t live = 0;                          // connections open (evicted ones no longer count)
  std::list<std::weak_ptr<Session>> idle;  // waiting for a request's header, longest first
  // Closes the connection that has waited longest for a request; false when none waits.
  bool close_longest_idle();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpHandler& handler, const HttpServerLimits& limits,
          std::shared_ptr<HttpServer::Sessions> sessions)
      : stream_(std::move(socket)), handler_(handler), limits_(limits), sessions_(std::move(sessions)) {
    ++sessions_->live;
    // Beast reads as much as the buffer has room for, and at least 512 bytes: without room
    // reserved, a 7 KiB report took 15 recv() calls (kReadBuffer: one for most reports).
    buffer_.reserve(kReadBuffer);
  }
  ~Session() {
    set_idle(false);
    if (counted_) --sessions_->live;
  }

  void start() { read_header(); }

  // Closes the connection now (its descriptor is free at once); the pending read then ends
  // with operation_aborted and the session goes away.
  void evict() {
    set_idle(false);
    if (counted_) --sessions_->live;
    counted_ = false;
    stream_.close();
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(handler_.body_limit());
    parser_->header_limit(16 * 1024);
    // One deadline for the whole header (and for an idle keep-alive connection), not per read:
    // a client sending a byte at a time is closed after header_timeout all the same.
    stream_.expires_after(limits_.header_timeout);
    set_idle(true);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_header(ec);
    });
  }

  void on_header(beast::error_code ec) {
    set_idle(false);
    if (ended(ec)) return;
    if (auto refusal = handler_.check_header(parser_->get())) {
      // A small body is read and dropped, so that a keep-alive client can go on; a larger one is
      // never read, and the connection closes after the answer.
      auto length = parser_->content_length();
      if (parser_->is_done() || !length || *length > kDrainLimit) {
        if (!parser_->is_done()) refusal->keep_alive(false);
        write(std::move(*refusal));
        return;
      }
      stream_.expires_after(limits_.body_timeout);
      auto shared = std::make_shared<HttpResponse>(std::move(*refusal));
      http::async_read(stream_, buffer_, *parser_, [self = shared_from_this(), shared](beast::error_code ec, size_t) {
        if (!self->ended(ec)) self->write(std::move(*shared));
      });
      return;
    }
    if (parser_->is_done()) {
      respond();
      return;
    }
    stream_.expires_after(limits_.body_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!self->ended(ec)) self->respond();
    });
  }

  // Handles a failed read (closing, or answering what can be answered); false when there was none.
  bool ended(beast::error_code ec) {
    if (!ec) return false;
    if (ec == asio::error::operation_aborted) return true;  // evicted
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset) {
      close();
      return true;
    }
    if (ec == http::error::body_limit) {
      // What was sent cannot be read further: answer and close.
      write(handler_.refuse_oversized(parser_->get().version(), false));
      return true;
    }
    // Not HTTP: say so and close.
    HttpResponse res(http::status::bad_request, 11);
    res.set(http::field::content_type, "application/json");
    res.body() = "{\"error\":\"malformed HTTP request: " + ec.message() + "\"}\n";
    res.keep_alive(false);
    res.prepare_payload();
    write(std::move(res));
    return true;
  }

  void respond() {
    auto req = std::make_shared<HttpRequest>(parser_->release());
    bool head = req->method() == http::verb::head;
    try {
      handler_.handle_async(*req, unix_now(), [self = shared_from_this(), head](HttpResponse res) {
        if (head) res.body().clear();
        self->write(std::move(res));
      });
    } catch (const std::exception& e) {  // a corrupt stored report, say: this request fails, not the server
      if (sessions_->say) sessions_->say(log::Level::error, std::string("request ") + std::string(req->target()) + ": " + e.what());
      HttpResponse res(http::status::internal_server_error, req->version());
      res.keep_alive(false);
      res.prepare_payload();
      write(std::move(res));
    }
  }

  void write(HttpResponse res) {
    auto shared = std::make_shared<HttpResponse>(std::move(res));
    stream_.expires_after(limits_.body_timeout);  // a client that does not read its answer goes too
    http::async_write(stream_, *shared, [self = shared_from_this(), shared](beast::error_code ec, size_t) {
      if (ec == asio::error::operation_aborted) return;
      if (ec || !shared->keep_alive()) {
        self->close();
        return;
      }
      self->read_header();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  void set_idle(bool idle) {
    if (idle_pos_) sessions_->idle.erase(*idle_pos_);
    idle_pos_.reset();
    if (idle) idle_pos_ = sessions_->idle.insert(sessions_->idle.end(), weak_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpHandler& handler_;
  const HttpServerLimits limits_;  // a copy: nodeld replaces its server on reload while connections finish
  std::shared_ptr<HttpServer::Sessions> sessions_;
  std::optional<std::list<std::weak_ptr<Session>>::iterator> idle_pos_;
  bool counted_ = true;
};

}  // namespace

bool HttpServer::Sessions::close_longest_idle() {
  while (!idle.empty()) {
    auto s = idle.front().lock();
    if (!s) {
      idle.pop_front();
      continue;
    }
    s->evict();  // takes it off the list
    return true;
  }
  return false;
}

size_t effective_max_sessions(const HttpServerLimits& limits) {
  if (limits.max_sessions) return limits.max_sessions;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return std::max<size_t>(8, rl.rlim_cur > kReservedFds ? rl.rlim_cur - kReservedFds : 0);
}

HttpServer::HttpServer(asio::io_context& io, HttpHandler& handler, HttpServerLimits limits, log::Say say)
    : handler_(handler),
      limits_(limits),
      acceptor_(io),
      backoff_timer_(io),
      sessions_(std::make_shared<Sessions>()) {
  limits_.max_sessions = effective_max_sessions(limits);
  sessions_->say = std::move(say);
}

HttpServer::~HttpServer() = default;

Result<tcp::endpoint> HttpServer::listen(const tcp::endpoint& at) {
  beast::error_code ec;
  acceptor_.open(at.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(at, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error{"listen on " + at.address().to_string() + ":" + std::to_string(at.port()) + ": " + ec.message(), ec};
  accept();
  return acceptor_.local_endpoint();
}

void HttpServer::stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
  backoff_timer_.cancel();
}

void HttpServer::accept() {
  // One thread runs everything (the frontend's SQLite connection is not shared), so no strands.
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors (or buffers): retrying at once would fail at once, forever, at 100 %
      // CPU. Free a descriptor from the longest-idle connection and wait a little.
      bool freed = sessions_->close_longest_idle();
      ++accept_failures_;
      // Said at most once a minute: a flood fails accept() once per connection it brings.
      auto now = std::chrono::steady_clock::now();
      if (!last_accept_warning_ || now - *last_accept_warning_ >= std::chrono::minutes(1)) {
        if (sessions_->say)
          sessions_->say(log::Level::warning, "cannot accept connections: " + ec.message() + " (" + std::to_string(accept_failures_) +
                     " times since the last warning); " +
                     (freed ? "closed the longest-idle connection" : "no idle connection to close") +
                     ", retrying with backoff (at most " + std::to_string(limits_.max_sessions) + " connections)");
        last_accept_warning_ = now;
        accept_failures_ = 0;
      }
      backoff_ = std::clamp(backoff_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
      backoff_timer_.expires_after(backoff_);
      backoff_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) accept();
      });
      return;
    }
    backoff_ = std::chrono::milliseconds(0);
    // At the cap the newcomer takes the place of the connection that has waited longest for a
    // request; when every connection is mid-request, the newcomer is refused.
    if (sessions_->live < limits_.max_sessions || sessions_->close_longest_idle())
      std::make_shared<Session>(std::move(socket), handler_, limits_, sessions_)->start();
    accept();
  });
}

Result<tcp::endpoint> parse_listen_address(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return make_error("\"" + s + "\" is not HOST:PORT");
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto p = parse_integer<uint16_t>(port);
  if (!p) return make_error("\"" + s + "\": \"" + port + "\" is not a port number");
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error("\"" + s + "\": \"" + host + "\" is not an IP address");
  return tcp::endpoint(addr, *p);
}

}  // namespace smartvm
