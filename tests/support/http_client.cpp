#include "http_client.hpp"

#include <chrono>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace smartvm::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpClient::HttpClient(int port) {
  stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
}

http::response<http::string_body> HttpClient::send(http::verb verb, const std::string& target, const std::string& body,
                                                   const std::string& token) {
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ignored;
  http::write(stream_, req, ignored);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream_, buf, res);
  return res;
}

std::string http_get(int port, const std::string& target) {
  try {
    HttpClient c(port);
    return c.send(http::verb::get, target).body();
  } catch (const std::exception&) {
    return "";
  }
}

std::string get_until(int port, const std::string& target, const std::string& line) {
  std::string body;
  for (int i = 0; i < 100 && body.find(line) == std::string::npos; ++i) {
    body = http_get(port, target);
    if (body.find(line) == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return body;
}

}  // namespace smartvm::test
