#include "report_sender.hpp"

#include "log.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <memory>

namespace smartvm::nodeld {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One POST on a connection of its own: reports are seconds apart, and a fresh connection
// cannot be a stale one.
struct ReportSender::Exchange {
  explicit Exchange(asio::io_context& io) : resolver(io), stream(io) {}
  tcp::resolver resolver;
  beast::tcp_stream stream;
  http::request<http::string_body> request;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
};

ReportSender::ReportSender(asio::io_context& io, SayFn say) : io_(io), say_(std::move(say)), retry_(io) {}

void ReportSender::configure(std::optional<HttpTarget> target, std::string token, std::chrono::seconds timeout) {
  target_ = std::move(target);
  token_ = std::move(token);
  timeout_ = timeout;
}

void ReportSender::send(std::string body) {
  if (!target_) return;
  if (waiting_) {
    if (outage_) ++replaced_in_outage_;
  }
  waiting_ = std::move(body);
  if (!in_flight_ && !retry_armed_) attempt();
}

void ReportSender::attempt() {
  if (!target_ || !waiting_) return;
  in_flight_ = true;
  auto x = std::make_shared<Exchange>(io_);
  std::string body = std::move(*waiting_);
  waiting_.reset();
  x->request = {http::verb::post, target_->target, 11};
  x->request.set(http::field::host, target_->host + ":" + target_->port);
  x->request.set(http::field::user_agent, "nodeld");
  x->request.set(http::field::content_type, "application/json");
  x->request.set(http::field::authorization, "Bearer " + token_);
  x->request.body() = body;
  x->request.prepare_payload();
  // The whole exchange, resolving included, within the timeout.
  x->stream.expires_after(timeout_);
  auto fail = [this, x, body](const char* step, beast::error_code ec) {
    complete(body, std::string(step) + ": " + ec.message(), 0, "");
  };
  x->resolver.async_resolve(
      target_->host, target_->port, [this, x, body, fail](beast::error_code ec, tcp::resolver::results_type hosts) {
        if (ec) return fail("resolve", ec);
        x->stream.async_connect(hosts, [this, x, body, fail](beast::error_code ec, const tcp::endpoint&) {
          if (ec) return fail("connect", ec);
          http::async_write(x->stream, x->request, [this, x, body, fail](beast::error_code ec, size_t) {
            if (ec) return fail("send", ec);
            http::async_read(x->stream, x->buffer, x->response, [this, x, body, fail](beast::error_code ec, size_t) {
              if (ec) return fail("answer", ec);
              beast::error_code ignored;
              x->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
              complete(body, "", x->response.result_int(), x->response.body());
            });
          });
        });
      });
}

void ReportSender::complete(std::string body, const std::string& failure, unsigned status, const std::string& answer) {
  in_flight_ = false;
  const std::string url = target_ ? target_->url : "the frontend";
  std::string trimmed = answer.substr(0, 200);
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  bool delivered = failure.empty() && status >= 200 && status < 300;
  bool refused_report = failure.empty() && (status == 400 || status == 413);
  if (delivered || refused_report) {
    if (delivered) {
      ++delivered_;
      said_refused_ = false;
      // {"stored":false}: the frontend holds a newer report under this node's name.
      boost::system::error_code ec;
      auto v = boost::json::parse(answer, ec);
      const boost::json::value* stored = !ec && v.is_object() ? v.get_object().if_contains("stored") : nullptr;
      if (stored && stored->is_bool() && !stored->get_bool()) {
        ++not_stored_;
        if (!said_not_stored_)
          say(log::Level::warning, url + " does not store this node's reports: it holds a newer one under this node's name "
                             "(another node with the same name?); said once until one is stored");
        said_not_stored_ = true;
      } else if (said_not_stored_) {
        say(log::Level::notice, url + " stores this node's reports again");
        said_not_stored_ = false;
      }
    }
    if (refused_report) {
      ++refused_;
      if (!said_refused_)
        say(log::Level::error, url + " refused a report (HTTP " + std::to_string(status) + " " + trimmed +
                   "); dropped it (said once until a report is accepted)");
      said_refused_ = true;
    }
    if (outage_) {
      say(log::Level::notice, "reports reach " + url + " again; " + std::to_string(replaced_in_outage_) +
                  " reports made during the outage were replaced by newer ones");
      outage_ = false;
    }
    backoff_.succeeded();
    replaced_in_outage_ = 0;
    if (waiting_) attempt();
    return;
  }
  // Unreachable, failing or refusing the token: keep the newest report and try again later.
  if (!outage_) {
    std::string why = failure.empty() ? "HTTP " + std::to_string(status) + " " + trimmed : failure;
    say(log::Level::warning, "cannot deliver reports to " + url + " (" + why + "); retrying with backoff, keeping only the newest");
    outage_ = true;
  }
  if (!waiting_) waiting_ = std::move(body);
  retry_armed_ = true;
  retry_.expires_after(backoff_.failed());
  retry_.async_wait([this](const boost::system::error_code& ec) {
    retry_armed_ = false;
    if (!ec) attempt();
  });
}

}  // namespace smartvm::nodeld

namespace smartvm::nodeld {

std::string ReportSender::metrics_text() const {
  auto counter = [](const char* name, const char* help, uint64_t v) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(v) + "\n";
  };
  return counter("smartvm_node_reports_delivered_total", "Reports the frontend accepted (HTTP 2xx).", delivered_) +
         counter("smartvm_node_reports_not_stored_total",
                 "Reports the frontend accepted but did not store: it holds a newer one of this node's name.",
                 not_stored_) +
         counter("smartvm_node_reports_refused_total", "Reports the frontend refused as malformed (400, 413); dropped.",
                 refused_);
}

}  // namespace smartvm::nodeld
