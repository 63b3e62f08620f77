#include "http_api.hpp"

#include "json_text.hpp"
#include "node_token.hpp"
#include "utc_time.hpp"
#include "parse_number.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <chrono>

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

std::string utc(int64_t t) { return format_utc(std::chrono::system_clock::from_time_t(static_cast<time_t>(t))); }

json::object summary(const NodeRow& n) {
  return {{"name", n.name},
          {"received_at", utc(n.received_at)},
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

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// The token of "Authorization: Bearer TOKEN", or nullopt.
std::optional<std::string_view> bearer(const Request& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return std::nullopt;
  std::string_view v(it->value().data(), it->value().size());
  if (v.substr(0, 7) != "Bearer ") return std::nullopt;
  return v.substr(7);
}

// What the status page shows of a report, kept next to it so that the page never parses every
// node's whole report: running domains, the 1-minute load, each RDMA port.
std::string page_summary(const NodeReport& r) {
  const json::object& o = r.raw.get_object();
  size_t running = 0;
  for (const auto& d : r.domains) running += d.state == "running";
  // Each RDMA port as "mlx5_0:1 ACTIVE ib0": which link is up is what a sysadmin looks for.
  std::string ports;
  auto text = [](const json::object& p, const char* key) {
    const json::value* v = p.if_contains(key);
    if (!v) return std::string();
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64() || v->is_uint64()) return std::to_string(v->to_number<uint64_t>());
    return std::string();
  };
  if (const json::value* rp = o.if_contains("rdma_ports"); rp && rp->is_array())
    for (const auto& p : rp->get_array()) {
      if (!p.is_object()) continue;
      std::string port = text(p.get_object(), "device") + ":" + text(p.get_object(), "port") + " " +
                         text(p.get_object(), "state");
      if (std::string ipoib = text(p.get_object(), "ipoib_interface"); !ipoib.empty()) port += " " + ipoib;
      ports += (ports.empty() ? "" : ", ") + port;
    }
  std::string load;
  if (const json::value* h = o.if_contains("host"); h && h->is_object())
    if (const json::value* l = h->get_object().if_contains("load"); l && l->is_array() && !l->get_array().empty())
      if (l->get_array().at(0).is_number()) {
        // Boost.JSON writes 0.25 as 2.5E-1: fine for machines, not for a page people read.
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.2f", l->get_array().at(0).to_number<double>());
        load = buf;
      }
  return json_text(json::object{{"running", running}, {"load", load}, {"rdma_ports", ports}});
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

Response Api::handle(const Request& req, int64_t now) {
  std::string target(req.target());
  std::string path = target.substr(0, target.find('?'));
  std::string query = path.size() < target.size() ? target.substr(path.size() + 1) : "";

  if (path == "/v1/reports") {
    if (req.method() != http::verb::post) return error(req, http::status::method_not_allowed, "use POST");
    return post_report(req, now);
  }
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return error(req, http::status::method_not_allowed, "use GET");
  if (!settings_.read_token.empty() && path != "/metrics" && !bearer_matches(req, settings_.read_token))
    return error(req, http::status::unauthorized, "a bearer token is required to read");
  if (path == "/v1/nodes") return get_nodes(req, now);
  if (path.rfind("/v1/nodes/", 0) == 0) return get_node(req, path.substr(10), now);
  if (path == "/v1/placement") return get_placement(req, query, now);
  if (path == "/metrics") return get_metrics(req, now);
  if (path == "/") return get_status_page(req, now);
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
  if (*stored == PutOutcome::stored) ++reports_stored_;
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
  return reply(req, http::status::ok, out, "text/plain; version=0.0.4; charset=utf-8");
}

Response Api::get_status_page(const Request& req, int64_t now) {
  auto nodes = store_.list(now);
  if (!nodes) return error(req, http::status::internal_server_error, nodes.error().message);
  std::string rows;
  for (const auto& n : *nodes) {
    // Stored with the report (page_summary); "{}" for a row from before there was one.
    json::value summary = json::parse(n.summary);
    auto field = [&summary](const char* key) {
      const json::value* v = summary.is_object() ? summary.get_object().if_contains(key) : nullptr;
      if (v && v->is_string() && !v->get_string().empty()) return std::string(v->get_string());
      if (v && v->is_number()) return std::to_string(v->to_number<uint64_t>());
      return std::string("-");
    };
    std::string ports = field("rdma_ports"), load = field("load"), running = field("running");
    rows += "<tr class=\"" + std::string(n.stale ? "stale" : "fresh") + "\" id=\"node-" + html_escape(n.name) + "\"><td>" +
            html_escape(n.name) + "</td><td>" + (n.stale ? "stale" : "fresh") + "</td><td>" + utc(n.received_at) +
            "</td><td>" + std::to_string(n.free_cores) + " / " + std::to_string(n.capacity_cores) + "</td><td>" +
            std::to_string(n.free_memory_kib / 1024) + " / " + std::to_string(n.capacity_memory_kib / 1024) +
            " MiB</td><td>" + html_escape(load) + "</td><td>" + running + "</td><td>" +
            html_escape(ports) + "</td></tr>\n";
  }
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">"
      "<title>smartvm nodes</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:.3em .8em;text-align:left}tr.stale{color:#999}</style></head><body>\n"
      "<h1>smartvm nodes</h1><p>" + std::to_string(nodes->size()) + " nodes, as of " + utc(now) +
      " (refreshes every 10 s)</p>\n<table><thead><tr><th>node</th><th>state</th><th>last report</th>"
      "<th>free cores</th><th>free memory</th><th>load (1 min)</th><th>running VMs</th><th>RDMA ports</th>"
      "</tr></thead><tbody>\n" + rows + "</tbody></table></body></html>\n";
  return reply(req, http::status::ok, page, "text/html; charset=utf-8");
}

}  // namespace smartvm::frontend
