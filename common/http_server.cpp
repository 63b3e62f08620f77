#include "http_server.hpp"

#include "log.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <chrono>
#include <memory>

namespace smartvm {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpHandler& handler) : stream_(std::move(socket)), handler_(handler) {}

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(handler_.body_limit());
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::connection_reset) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      // What was sent cannot be read further: answer and close.
      write(handler_.refuse_oversized(parser_->get().version(), false));
      return;
    }
    if (ec) {  // not HTTP: say so and close
      HttpResponse res(http::status::bad_request, 11);
      res.set(http::field::content_type, "application/json");
      res.body() = "{\"error\":\"malformed HTTP request: " + ec.message() + "\"}\n";
      res.keep_alive(false);
      res.prepare_payload();
      write(std::move(res));
      return;
    }
    HttpRequest req = parser_->release();
    HttpResponse res;
    try {
      res = handler_.handle(req, unix_now());
    } catch (const std::exception& e) {  // a corrupt stored report, say: this request fails, not the server
      log::error(std::string("request ") + std::string(req.target()) + ": " + e.what());
      res = HttpResponse(http::status::internal_server_error, req.version());
      res.keep_alive(false);
      res.prepare_payload();
    }
    if (req.method() == http::verb::head) res.body().clear();
    write(std::move(res));
  }

  void write(HttpResponse res) {
    auto shared = std::make_shared<HttpResponse>(std::move(res));
    http::async_write(stream_, *shared, [self = shared_from_this(), shared](beast::error_code ec, size_t) {
      if (ec || !shared->keep_alive()) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpHandler& handler_;
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, HttpHandler& handler) : handler_(handler), acceptor_(io) {}

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
}

void HttpServer::accept() {
  // One thread runs everything (the frontend's SQLite connection is not shared), so no strands.
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), handler_)->start();
    accept();
  });
}

Result<tcp::endpoint> parse_listen_address(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return make_error("\"" + s + "\" is not HOST:PORT");
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned p = 0;
  auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (perr != std::errc() || ptr != port.data() + port.size() || p > 65535)
    return make_error("\"" + s + "\": \"" + port + "\" is not a port number");
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return make_error("\"" + s + "\": \"" + host + "\" is not an IP address");
  return tcp::endpoint(addr, static_cast<unsigned short>(p));
}

}  // namespace smartvm
