// Delivers reports to the frontend: HTTP POST (Boost.Beast) with the bearer token and a
// timeout. While the frontend is down, only the newest report waits (memory stays bounded:
// one report in flight, one waiting), retries back off from 1 s to 60 s, and the outage is
// logged when it starts and when it ends, never per attempt. A report the frontend refuses as
// malformed (400, 413) is dropped with an error: sending it again would not help. A report the
// frontend answers {"stored":false} (it holds a newer one of this node's name) was delivered but
// is not the node's state there: that is said once, and counted, until one is stored again.
#pragma once

#include "backoff.hpp"
#include "log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace smartvm::nodeld {

// Where reports go: the frontend's URL, parsed (nodeld_config.hpp, parse_http_url).
struct HttpTarget {
  std::string host;
  std::string port;  // "80" when the URL names none
  std::string target;  // path and query, "/v1/reports"
  std::string url;   // as written, for logs
};

class ReportSender {
 public:
  // What it has to say (an outage that starts or ends, a refused report) goes to `say`, on the
  // loop of `io`: the daemon logs it.
  using SayFn = std::function<void(log::Level, const std::string&)>;
  ReportSender(boost::asio::io_context& io, SayFn say);

  // A new target takes effect from the next attempt; none stops delivery.
  void configure(std::optional<HttpTarget> target, std::string token, std::chrono::seconds timeout);
  // Queues a report, replacing one that still waits.
  void send(std::string body);

  uint64_t not_stored() const { return not_stored_; }  // delivered, but the frontend kept a newer one
  uint64_t refused() const { return refused_; }        // dropped: the frontend refused them (400, 413)
  // Prometheus text for the three counters above.
  std::string metrics_text() const;
  bool in_outage() const { return outage_; }
  // Whether there is a frontend to send to (none: a report made only to be sent is not made).
  bool configured() const { return target_.has_value(); }

 private:
  struct Exchange;
  void attempt();
  void complete(std::string body, const std::string& failure, unsigned status, const std::string& answer);

  boost::asio::io_context& io_;
  SayFn say_;
  void say(log::Level level, const std::string& message) const {
    if (say_) say_(level, message);
  }
  boost::asio::steady_timer retry_;
  std::optional<HttpTarget> target_;
  std::string token_;
  std::chrono::seconds timeout_{5};
  std::optional<std::string> waiting_;
  bool in_flight_ = false;
  bool retry_armed_ = false;
  bool outage_ = false;
  Backoff<std::chrono::seconds> backoff_{std::chrono::seconds(1), std::chrono::seconds(60)};
  uint64_t delivered_ = 0;
  uint64_t not_stored_ = 0;
  uint64_t refused_ = 0;
  bool said_not_stored_ = false;  // since the last stored report
  bool said_refused_ = false;
  uint64_t replaced_in_outage_ = 0;
};

}  // namespace smartvm::nodeld
