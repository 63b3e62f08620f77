#include "http_api.hpp"

#include "json_text.hpp"
#include "node_token.hpp"
#include "status_page.hpp"
#include "utc_time.hpp"
#include "parse_number.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <chrono>
#include <cmath>

namespace smartvm::frontend {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace {

Response reply(const Request& req, http::status status, std::string body, const char* type = "application/json") {
  Response res(status, req.version());
  res.set(http::field::content_type, type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error(const Request& req, http::status status, const std::string& message) {
  return reply(req, status, json_text(json::object{{"error", message}}) + "\n");
}


json::object summary(const NodeRow& n) {
  return {{"name", n.name},
          {"received_at", format_utc_seconds(n.received_at)},
          {"stale", n.stale},
          {"interval_seconds", n.interval_seconds},
          {"capacity_cores", n.capacity_cores},
          {"capacity_memory_mib", n.capacity_memory_kib / 1024},
          {"free_cores", n.free_cores},
          {"free_memory_mib", n.free_memory_kib / 1024}};
}

// The value of `key` in a query string "a=1&b=2"; no decoding needed for the numbers we take.
std::optional<std::string> query_value(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(pos, end - pos);
    if (pair.rfind(key + "=", 0) == 0) return pair.substr(key.size() + 1);
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> to_uint(const std::string& s) { return parse_integer<uint64_t>(s); }

// The token of "Authorization: Bearer TOKEN", or nullopt.
std::optional<std::string_view> bearer(const Request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v(it->value().data(), it->value().size());
  if (v.substr(0, 7) != "Bearer ") return std::nullopt;
  return v.substr(7);
}

}  // namespace

bool bearer_matches(const Request& req, const std::string& token) {
  auto presented = bearer(req);
  return presented && !token.empty() && same_secret(*presented, token);
}

std::optional<Poster> Api::authenticate(const Request& req) const {
  auto presented = bearer(req);
  if (!presented) return std::nullopt;
  if (!settings_.post_token.empty() && same_secret(*presented, settings_.post_token)) return Poster{};
  if (auto node = node_of_token(settings_.node_secret, *presented)) return Poster{std::move(node)};
  return std::nullopt;
}

Response Api::refuse(const Request& req, http::status status, const char* reason, const std::string& message) {
  ++rejected_[reason];
  return error(req, status, message);
}

std::optional<Response> Api::check_header(const Request& req) {
  std::string_view target = req.target();
  if (req.method() != http::verb::post || target.substr(0, target.find('?')) != "/v1/reports") return std::nullopt;
  if (authenticate(req)) return std::nullopt;
  return refuse(req, http::status::unauthorized, "unauthorized", "a valid bearer token is required to post reports");
}

Response Api::refuse_oversized(unsigned version, bool keep_alive) {
  Request req;
  req.version(version);
  req.keep_alive(keep_alive);
  return refuse(req, http::status::payload_too_large, "too_large",
                "the body is larger than " + std::to_string(settings_.max_report_bytes) + " bytes");
}

void Api::handle_async(const Request& req, int64_t now, Reply reply) {
  wrote_ = false;
  Response res = handle(req, now);
  if (!wrote_ || !sync_) {
    reply(std::move(res));
    return;
  }
  sync_->after_flush([res = std::move(res), reply = std::move(reply), version = req.version()](Result<void> flushed) mutable {
    if (!flushed) {
      // Stored but maybe not on disk: the node sends its report again, and one that arrives
      // twice is stored once.
      res = Response(http::status::internal_server_error, version);
      res.set(http::field::content_type, "application/json");
      res.body() = json_text(json::object{{"error", "the report could not be made durable: " + flushed.error().message}}) + "\n";
      res.prepare_payload();
    }
    reply(std::move(res));
  });
}

Response Api::handle(const Request& req, int64_t now) {
  forget_silent(now);
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  std::string query = path.size() < target.size() ? target.substr(path.size() + 1) : "";

  if (path == "/v1/reports") {
    if (req.method() != http::verb::post) return error(req, http::status::method_not_allowed, "use POST");
    return post_report(req, now);
  }
  if (req.method() == http::verb::delete_ && path.rfind("/v1/nodes/", 0) == 0) return delete_node(req, path.substr(10));
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return error(req, http::status::method_not_allowed, "use GET");
  if (!settings_.read_token.empty() && path != "/metrics" && !bearer_matches(req, settings_.read_token))
    return error(req, http::status::unauthorized, "a bearer token is required to read");
  if (path == "/v1/nodes") return get_nodes(req, now);
  if (path == "/v1/dump") return get_dump(req);
  if (path.rfind("/v1/nodes/", 0) == 0 && path.size() > 18 && path.ends_with("/history"))
    return get_history(req, path.substr(10, path.size() - 18), query, now);
  if (path.rfind("/v1/nodes/", 0) == 0) return get_node(req, path.substr(10), now);
  if (path.rfind("/nodes/", 0) == 0) return get_node_page(req, path.substr(7), now);
  if (path == "/v1/placement") return get_placement(req, query, now);
  if (path == "/metrics") return get_metrics(req, now);
  if (path == "/") return get_status_page(req, query, now);
  return error(req, http::status::not_found, "no such resource: " + path);
}

Response Api::post_report(const Request& req, int64_t now) {
  auto poster = authenticate(req);
  if (!poster) return refuse(req, http::status::unauthorized, "unauthorized", "a valid bearer token is required to post reports");
  if (req.body().size() > settings_.max_report_bytes)
    return refuse(req, http::status::payload_too_large, "too_large",
                  "the body is larger than " + std::to_string(settings_.max_report_bytes) + " bytes");
  auto report = decode_report(req.body());
  if (!report) return refuse(req, http::status::bad_request, "invalid", "invalid report: " + report.error().message);
  if (poster->node && *poster->node != report->node)
    return refuse(req, http::status::forbidden, "wrong_node",
                  "the token is node " + *poster->node + "'s; the report is from node " + report->node);
  int64_t made = std::chrono::system_clock::to_time_t(*parse_utc(report->time));
  if (made > now + kMaxClockAheadSeconds)
    return refuse(req, http::status::bad_request, "clock_ahead",
                  "invalid report: time: " + report->time + " is " + std::to_string(made - now) +
                      " s ahead of the frontend's clock (at most " + std::to_string(kMaxClockAheadSeconds) +
                      " s); check the node's clock");
  auto stored = store_.put(*report, now, page_summary(*report));
  if (!stored) return error(req, http::status::internal_server_error, stored.error().message);
  if (*stored == PutOutcome::full)
    return refuse(req, http::status::insufficient_storage, "too_many_nodes",
                  "the frontend keeps at most " + std::to_string(store_.max_nodes()) + " nodes (--max-nodes); " +
                      report->node + " is not one of them");
  if (*stored == PutOutcome::stored) {
    ++reports_stored_;
    wrote_ = true;
  }
  return reply(req, http::status::ok, json_text(json::object{{"stored", *stored == PutOutcome::stored}}) + "\n");
}

Response Api::get_nodes(const Request& req, int64_t now) {
  auto nodes = store_.list(now);
  if (!nodes) return error(req, http::status::internal_server_error, nodes.error().message);
  json::array a;
  for (const auto& n : *nodes) a.push_back(summary(n));
  return reply(req, http::status::ok, json_text(a) + "\n");
}

Response Api::get_node(const Request& req, const std::string& name, int64_t now) {
  if (!valid_node_name(name)) return error(req, http::status::bad_request, "\"" + name + "\" is not a node name");
  auto node = store_.get(name, now);
  if (!node) return error(req, http::status::internal_server_error, node.error().message);
  if (!*node) return error(req, http::status::not_found, "no report from node " + name);
  // The report is spliced in as stored (json_text when it arrived), not parsed and written again.
  std::string body = json_text(summary(**node));
  body.pop_back();
  body += ",\"report\":" + (*node)->report + "}\n";
  return reply(req, http::status::ok, std::move(body));
}

Response Api::get_placement(const Request& req, const std::string& query, int64_t now) {
  auto cores = query_value(query, "cores");
  auto mem = query_value(query, "memory_mib");
  auto c = cores ? to_uint(*cores) : std::nullopt;
  auto m = mem ? to_uint(*mem) : std::nullopt;
  if (!c || !m || *c == 0)
    return error(req, http::status::bad_request, "give cores=N (N >= 1) and memory_mib=M as whole numbers");
  // Reports are bounded so (node_report.hpp); larger cannot be true, and would not fit SQLite.
  if (*c > kMaxReportNumber || *m > (kMaxReportNumber >> 10))
    return error(req, http::status::bad_request,
                 "cores=" + *cores + "&memory_mib=" + *mem + " is more than any node has (at most 2^53 cores, 2^43 MiB)");
  auto nodes = store_.placement(*c, *m * 1024, now);
  if (!nodes) return error(req, http::status::internal_server_error, nodes.error().message);
  json::array a;
  for (const auto& n : *nodes) a.push_back(summary(n));
  return reply(req, http::status::ok, json_text(a) + "\n");
}

Response Api::get_metrics(const Request& req, int64_t now) {
  auto nodes = store_.list(now);
  if (!nodes) return error(req, http::status::internal_server_error, nodes.error().message);
  std::string out;
  size_t stale = 0;
  for (const auto& n : *nodes) stale += n.stale;
  out += "# HELP smartvm_frontend_nodes Nodes known to the frontend, by freshness.\n"
         "# TYPE smartvm_frontend_nodes gauge\n";
  out += "smartvm_frontend_nodes{state=\"fresh\"} " + std::to_string(nodes->size() - stale) + "\n";
  out += "smartvm_frontend_nodes{state=\"stale\"} " + std::to_string(stale) + "\n";
  out += "# HELP smartvm_frontend_reports_stored_total Reports stored since the frontend started.\n"
         "# TYPE smartvm_frontend_reports_stored_total counter\n"
         "smartvm_frontend_reports_stored_total " + std::to_string(reports_stored_) + "\n";
  if (sync_)
    out += "# HELP smartvm_frontend_log_flushes_total Flushes of the write-ahead log; each makes every report "
           "committed before it durable.\n"
           "# TYPE smartvm_frontend_log_flushes_total counter\n"
           "smartvm_frontend_log_flushes_total " + std::to_string(sync_->flushes()) + "\n";
  out += "# HELP smartvm_frontend_reports_rejected_total Reports refused since the frontend started, by reason.\n"
         "# TYPE smartvm_frontend_reports_rejected_total counter\n";
  for (const char* reason : {"invalid", "too_large", "unauthorized", "wrong_node", "clock_ahead", "too_many_nodes"})
    out += std::string("smartvm_frontend_reports_rejected_total{reason=\"") + reason + "\"} " +
           std::to_string(rejected_.count(reason) ? rejected_.at(reason) : 0) + "\n";
  out += "# HELP smartvm_node_free_cores Cores not held by running domains, as last reported.\n"
         "# TYPE smartvm_node_free_cores gauge\n";
  for (const auto& n : *nodes) out += "smartvm_node_free_cores{node=\"" + n.name + "\"} " + std::to_string(n.free_cores) + "\n";
  out += "# HELP smartvm_node_free_memory_bytes Memory not held by running domains, as last reported.\n"
         "# TYPE smartvm_node_free_memory_bytes gauge\n";
  for (const auto& n : *nodes)
    out += "smartvm_node_free_memory_bytes{node=\"" + n.name + "\"} " + std::to_string(n.free_memory_kib * 1024) + "\n";
  out += "# HELP smartvm_node_report_age_seconds Seconds since the node's newest report arrived.\n"
         "# TYPE smartvm_node_report_age_seconds gauge\n";
  for (const auto& n : *nodes)
    out += "smartvm_node_report_age_seconds{node=\"" + n.name + "\"} " + std::to_string(now - n.received_at) + "\n";
  out += "# HELP smartvm_node_report_interval_seconds How often the node says it reports; stale after three.\n"
         "# TYPE smartvm_node_report_interval_seconds gauge\n";
  for (const auto& n : *nodes)
    out += "smartvm_node_report_interval_seconds{node=\"" + n.name + "\"} " + std::to_string(n.interval_seconds) + "\n";
  out += "# HELP smartvm_frontend_nodes_forgotten_total Nodes forgotten after --forget-after of silence.\n"
         "# TYPE smartvm_frontend_nodes_forgotten_total counter\n"
         "smartvm_frontend_nodes_forgotten_total " + std::to_string(nodes_forgotten_) + "\n";
  return reply(req, http::status::ok, out, "text/plain; version=0.0.4; charset=utf-8");
}

Response Api::get_status_page(const Request& req, const std::string& query, int64_t now) {
  auto nodes = store_.list(now);
  if (!nodes) return error(req, http::status::internal_server_error, nodes.error().message);
  auto page_text = query_value(query, "page");
  auto page = page_text ? to_uint(*page_text) : std::optional<uint64_t>(0);
  if (!page) return error(req, http::status::bad_request, "page=N: a whole number from 0");
  std::map<std::string, std::vector<HostSample>> hours;
  for (const NodeRow* n : nodes_on_page(*nodes, *page)) {
    auto h = store_.history(n->name, now - kHistoryTiers[0].keep_seconds, now);
    if (!h) return error(req, http::status::internal_server_error, h.error().message);
    hours[n->name] = std::move(*h);
  }
  return reply(req, http::status::ok, overview_html(*nodes, hours, now, *page), "text/html; charset=utf-8");
}

Response Api::get_node_page(const Request& req, const std::string& name, int64_t now) {
  if (!valid_node_name(name)) return error(req, http::status::bad_request, "\"" + name + "\" is not a node name");
  auto node = store_.get(name, now);
  if (!node) return error(req, http::status::internal_server_error, node.error().message);
  if (!*node) return error(req, http::status::not_found, "no report from node " + name);
  auto day = store_.history(name, now - kHistoryTiers[1].keep_seconds, now);
  if (!day) return error(req, http::status::internal_server_error, day.error().message);
  boost::system::error_code ec;
  json::value report = json::parse((*node)->report, ec);
  return reply(req, http::status::ok, node_html(**node, report, *day, now), "text/html; charset=utf-8");
}

Response Api::get_history(const Request& req, const std::string& name, const std::string& query, int64_t now) {
  if (!valid_node_name(name)) return error(req, http::status::bad_request, "\"" + name + "\" is not a node name");
  int64_t since = now - kHistoryTiers[0].keep_seconds;
  if (auto text = query_value(query, "since")) {
    auto t = parse_utc(*text);
    if (!t) return error(req, http::status::bad_request, "since=" + *text + " is not a UTC time like 2026-11-22T02:00:00Z");
    since = std::chrono::system_clock::to_time_t(*t);
  }
  auto node = store_.get(name, now);
  if (!node) return error(req, http::status::internal_server_error, node.error().message);
  if (!*node) return error(req, http::status::not_found, "no report from node " + name);
  auto samples = store_.history(name, since, now);
  if (!samples) return error(req, http::status::internal_server_error, samples.error().message);
  json::array a;
  auto value = [](double v) { return std::isnan(v) ? json::value(nullptr) : json::value(v); };
  for (const HostSample& s : *samples)
    a.push_back(json::object{{"time", format_utc_seconds(s.time)},
                             {"cpu_use_percent", value(s.cpu_use_percent)},
                             {"load1", value(s.load1)},
                             {"io_pressure", value(s.io_pressure)},
                             {"free_memory_kib", value(s.free_memory_kib)}});
  return reply(req, http::status::ok, json_text(a) + "\n");
}

Response Api::get_dump(const Request& req) {
  auto image = store_.image();
  if (!image) return error(req, http::status::internal_server_error, image.error().message);
  Response r = reply(req, http::status::ok, std::move(*image), "application/vnd.sqlite3");
  r.set(http::field::content_disposition, "attachment; filename=\"frontend-copy.db\"");
  return r;
}

Response Api::delete_node(const Request& req, const std::string& name) {
  // Forgetting a node is the operators' act, with the shared write token; a node's own token
  // posts its reports and nothing else.
  if (!bearer_matches(req, settings_.post_token))
    return error(req, http::status::unauthorized, "the write token (--token-file) is required to forget a node");
  if (!valid_node_name(name)) return error(req, http::status::bad_request, "\"" + name + "\" is not a node name");
  auto removed = store_.remove(name);
  if (!removed) return error(req, http::status::internal_server_error, removed.error().message);
  if (!*removed) return error(req, http::status::not_found, "no node " + name);
  wrote_ = true;
  return reply(req, http::status::ok, json_text(json::object{{"forgotten", name}}) + "\n");
}

void Api::forget_silent(int64_t now) {
  // Checked at most once a minute, on whatever request comes: no timer of its own.
  if (settings_.forget_after_seconds == 0 || now - last_forget_check_ < 60) return;
  last_forget_check_ = now;
  if (auto n = store_.forget_silent_since(now - static_cast<int64_t>(settings_.forget_after_seconds)); n) {
    nodes_forgotten_ += *n;
    wrote_ = wrote_ || *n > 0;  // this request's answer waits for the flush that makes it lasting
  }
}

}  // namespace smartvm::frontend
