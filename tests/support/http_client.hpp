// A real HTTP client (Boost.Beast) on one keep-alive connection to a server on loopback.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <string>

namespace smartvm::test {

class HttpClient {
 public:
  explicit HttpClient(int port);
  // Sends one request; a server that refuses a body early closes while we still write, so its
  // answer is read anyway.
  boost::beast::http::response<boost::beast::http::string_body> send(boost::beast::http::verb verb,
                                                                     const std::string& target,
                                                                     const std::string& body = "",
                                                                     const std::string& token = "");

 private:
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_{io_};
};

// One GET on a fresh connection; the body, or "" when there is no answer.
std::string http_get(int port, const std::string& target);

// GETs `target` every 100 ms until the body holds `line`, at most 10 s; the last body.
std::string get_until(int port, const std::string& target, const std::string& line);

}  // namespace smartvm::test
