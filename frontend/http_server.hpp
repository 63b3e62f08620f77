// The frontend's HTTP server: Boost.Beast on one Asio thread (SQLite's connection is used from
// that thread only). Bodies over kMaxReportBytes are refused with 413 before they are read;
// idle connections are closed after 30 s.
#pragma once

#include "http_api.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace smartvm::frontend {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Api& api);
  // Binds and starts accepting; returns the bound endpoint (port 0 picks a free port).
  Result<boost::asio::ip::tcp::endpoint> listen(const boost::asio::ip::tcp::endpoint& at);
  void stop();

 private:
  void accept();

  Api& api_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

// "127.0.0.1:8650", "[::1]:8650", "0.0.0.0:8650".
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& s);

}  // namespace smartvm::frontend
