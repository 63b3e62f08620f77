// A small HTTP/1.1 server (Boost.Beast) on one Asio thread, for the frontend's API and nodeld's
// /metrics. The handler is a plain interface from request to response, so every route is tested
// without a socket. Bodies over the handler's limit are refused with its 413 before they are
// read; idle connections are closed after 30 s.
#pragma once

#include "error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <string>

namespace smartvm {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // `now`: Unix seconds when the request was read.
  virtual HttpResponse handle(const HttpRequest& req, int64_t now) = 0;
  // The answer to a body the server refused before reading it (over body_limit()).
  virtual HttpResponse refuse_oversized(unsigned version, bool keep_alive) = 0;
  virtual size_t body_limit() const = 0;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpHandler& handler);
  // Binds and starts accepting; returns the bound endpoint (port 0 picks a free port).
  Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  void stop();

 private:
  void accept();

  HttpHandler& handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

// "127.0.0.1:8650", "[::1]:8650", "0.0.0.0:8650".
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& s);

}  // namespace smartvm
