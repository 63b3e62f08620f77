#include "status_page.hpp"

#include "json_text.hpp"
#include "sparkline.hpp"
#include "utc_time.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace smartvm::frontend {
namespace json = boost::json;

namespace {

constexpr const char* kStyle =
    "<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:middle}"
    "tr.stale td{color:#999;background:#f6f6f6}h2.stale{color:#999}"
    "svg.spark polyline{fill:none;stroke:#2a6;stroke-width:1.2}tr.stale svg.spark polyline{stroke:#bbb}"
    ".num{text-align:right;font-variant-numeric:tabular-nums}nav a{margin-right:1em}</style>";


// "48.7", "3.33": what a person reads; "-" when there is no value.
std::string number(double v, int decimals = 1) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string when(int64_t t, int64_t now) {
  return "<span title=\"" + format_utc_seconds(t) + "\">" + ago(now - t) + "</span>";
}

// One series of samples, as sparkline points.
std::vector<SparkPoint> series(const std::vector<HostSample>& samples, double HostSample::*field, double scale = 1) {
  std::vector<SparkPoint> out;
  out.reserve(samples.size());
  for (const HostSample& s : samples) out.push_back({s.time, s.*field * scale});
  return out;
}

struct Series {
  const char* label;
  double HostSample::*field;
  double scale;
  int decimals;
  double ceiling_min;
};
constexpr Series kSeries[] = {{"CPU use %", &HostSample::cpu_use_percent, 1, 1, 100},
                              {"load (1 min)", &HostSample::load1, 1, 2, 1},
                              {"I/O pressure %", &HostSample::io_pressure, 1, 1, 10},
                              {"free memory MiB", &HostSample::free_memory_kib, 1.0 / 1024, 0, 1}};

std::string spark_cells(const std::vector<HostSample>& samples, int64_t from, int64_t to, int64_t step, SparkStyle style) {
  std::string out;
  for (const Series& s : kSeries) {
    style.ceiling_min = s.ceiling_min;
    std::string last = samples.empty() ? "-" : number(samples.back().*s.field * s.scale, s.decimals);
    auto points = series(samples, s.field, s.scale);
    out += "<td>" + sparkline_svg(step > 0 ? one_per_step(points, step) : points, from, to, s.label, last, style) +
           " <span class=\"num\">" + last + "</span></td>";
  }
  return out;
}

const json::value* at(const json::value& v, const char* key) {
  return v.is_object() ? v.get_object().if_contains(key) : nullptr;
}

std::string text(const json::value* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "yes" : "no";
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) return number(v->get_double(), 2);
  return "";
}

const json::array& array_at(const json::value& v, const char* key) {
  static const json::array empty;
  const json::value* a = at(v, key);
  return a && a->is_array() ? a->get_array() : empty;
}

std::string mib(const json::value* kib) {
  if (!kib || !kib->is_number()) return "-";
  return std::to_string(kib->to_number<uint64_t>() / 1024) + " MiB";
}

// The running VMs and RDMA ports kept with the report at ingest (page_summary), so that the
// overview never parses every node's whole report; "-" for a row from before there was one.
std::string summary_cells(const std::string& stored) {
  boost::system::error_code ec;
  json::value v = json::parse(stored, ec);
  std::string running = text(ec ? nullptr : at(v, "running")), ports = text(ec ? nullptr : at(v, "rdma_ports"));
  return "<td class=\"num\">" + (running.empty() ? "-" : running) + "</td><td>" + html_escape(ports.empty() ? "-" : ports) +
         "</td>";
}

std::string page_head(const std::string& title, bool refresh) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
         std::string(refresh ? "<meta http-equiv=\"refresh\" content=\"10\">" : "") + "<title>" + html_escape(title) +
         "</title>" + kStyle + "</head><body>\n";
}

std::string domains_table(const json::value& report) {
  const json::array& domains = array_at(report, "domains");
  if (domains.empty()) return "<p>No domains.</p>\n";
  std::string rows;
  for (const json::value& d : domains) {
    uint64_t rd = 0, wr = 0;
    for (const json::value& b : array_at(d, "block")) {
      if (const json::value* v = at(b, "rd_bytes"); v && v->is_number()) rd += v->to_number<uint64_t>();
      if (const json::value* v = at(b, "wr_bytes"); v && v->is_number()) wr += v->to_number<uint64_t>();
    }
    std::string caps;
    if (const json::value* t = at(d, "throttle"); t && t->is_object())
      for (const char* k : {"read_bytes_sec", "write_bytes_sec", "read_iops_sec", "write_iops_sec"})
        if (std::string v = text(at(*t, k)); !v.empty() && v != "0") caps += (caps.empty() ? "" : ", ") + std::string(k) + " " + v;
    std::string reason = text(at(d, "throttle_reason"));
    if (!reason.empty()) caps += (caps.empty() ? "" : " ") + std::string("(") + reason + ")";
    const json::value* p = at(d, "io_pressure");
    rows += "<tr><td>" + html_escape(text(at(d, "name"))) + "</td><td>" + html_escape(text(at(d, "state"))) +
            "</td><td class=\"num\">" + html_escape(text(at(d, "vcpus"))) + "</td><td class=\"num\">" +
            mib(at(d, "memory_kib")) + "</td><td class=\"num\">" + std::to_string(rd >> 20) + " / " +
            std::to_string(wr >> 20) + " MiB</td><td>" + html_escape(caps.empty() ? "none" : caps) +
            "</td><td class=\"num\">" + (p && p->is_number() ? number(p->to_number<double>()) + " %" : "-") +
            "</td></tr>\n";
  }
  return "<table id=\"domains\"><thead><tr><th>domain</th><th>state</th><th>vCPUs</th><th>memory</th>"
         "<th>disk read / written</th><th>throttle caps</th><th>I/O pressure</th></tr></thead><tbody>\n" +
         rows + "</tbody></table>\n";
}

std::string jobs_table(const json::value& report) {
  const json::array& jobs = array_at(report, "jobs");
  if (jobs.empty()) return "<p>No jobs.</p>\n";
  std::string rows;
  for (const json::value& j : jobs)
    rows += "<tr><td>" + html_escape(text(at(j, "job_id"))) + "</td><td>" + html_escape(text(at(j, "service"))) +
            "</td><td>" + html_escape(text(at(j, "owner"))) + "</td><td>" + html_escape(text(at(j, "state"))) +
            "</td><td>" + html_escape(text(at(j, "since"))) + "</td><td class=\"num\">" + html_escape(text(at(j, "cores"))) +
            "</td><td class=\"num\">" + mib(at(j, "memory_kib")) + "</td></tr>\n";
  return "<table id=\"jobs\"><thead><tr><th>job</th><th>service</th><th>owner</th><th>state</th><th>since</th>"
         "<th>cores</th><th>memory</th></tr></thead><tbody>\n" +
         rows + "</tbody></table>\n";
}

std::string routes_table(const json::value& report) {
  std::string rows;
  for (const json::value& d : array_at(report, "domains"))
    for (const json::value& i : array_at(d, "interfaces")) {
      std::string addresses;
      for (const json::value& a : array_at(i, "addresses")) addresses += (addresses.empty() ? "" : ", ") + text(&a);
      rows += "<tr><td>" + html_escape(text(at(d, "name"))) + "</td><td>" + html_escape(text(at(i, "device"))) +
              "</td><td>" + html_escape(addresses.empty() ? "-" : addresses) + "</td></tr>\n";
    }
  std::string summary;
  if (const json::value* ipoib = at(report, "ipoib"); ipoib && ipoib->is_object()) {
    summary = "<p>Routing " + html_escape(text(at(*ipoib, "routing"))) + " on " + html_escape(text(at(*ipoib, "interface")));
    if (std::string mode = text(at(*ipoib, "mode")); !mode.empty()) summary += " (" + html_escape(mode) + ")";
    if (std::string routes = text(at(*ipoib, "routes")); !routes.empty()) summary += ", " + routes + " guest routes";
    if (std::string error = text(at(*ipoib, "error")); !error.empty()) summary += ": " + html_escape(error);
    summary += ".</p>\n";
  }
  if (rows.empty()) return summary + "<p>No guest addresses.</p>\n";
  return summary +
         "<table id=\"routes\"><thead><tr><th>domain</th><th>interface</th><th>addresses</th></tr></thead><tbody>\n" +
         rows + "</tbody></table>\n";
}

std::string rdma_table(const json::value& report) {
  const json::array& ports = array_at(report, "rdma_ports");
  if (ports.empty()) return "<p>No RDMA ports.</p>\n";
  std::string rows;
  for (const json::value& p : ports)
    rows += "<tr><td>" + html_escape(text(at(p, "device"))) + ":" + html_escape(text(at(p, "port"))) + "</td><td>" +
            html_escape(text(at(p, "state"))) + "</td><td>" + html_escape(text(at(p, "phys_state"))) +
            "</td><td class=\"num\">" + html_escape(text(at(p, "rate_gbps"))) + " Gb/s</td><td>" +
            html_escape(text(at(p, "ipoib_interface"))) + "</td></tr>\n";
  return "<table id=\"rdma\"><thead><tr><th>port</th><th>state</th><th>physical</th><th>rate</th><th>IPoIB</th>"
         "</tr></thead><tbody>\n" +
         rows + "</tbody></table>\n";
}

}  // namespace

// What the status page shows of a report, kept next to it so that the page never parses every
// node's whole report: running domains and each RDMA port.
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
  return json_text(json::object{{"running", running}, {"rdma_ports", ports}});
}

std::string count_of(size_t n, const std::string& singular, const std::string& plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}

std::string ago(int64_t s) {
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  if (s < 172800) return std::to_string(s / 3600) + " h ago";
  return std::to_string(s / 86400) + " days ago";
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<const NodeRow*> nodes_on_page(const std::vector<NodeRow>& all, size_t page, size_t per_page) {
  std::vector<const NodeRow*> order;
  order.reserve(all.size());
  for (const NodeRow& n : all) order.push_back(&n);
  std::stable_sort(order.begin(), order.end(), [](const NodeRow* a, const NodeRow* b) { return !a->stale && b->stale; });
  size_t first = std::min(order.size(), page * per_page);
  size_t last = std::min(order.size(), first + per_page);
  return {order.begin() + static_cast<ptrdiff_t>(first), order.begin() + static_cast<ptrdiff_t>(last)};
}

std::string overview_html(const std::vector<NodeRow>& all, const std::map<std::string, std::vector<HostSample>>& hours,
                          int64_t now, size_t page, size_t per_page) {
  size_t stale = 0;
  for (const NodeRow& n : all) stale += n.stale;
  size_t pages = std::max<size_t>(1, (all.size() + per_page - 1) / per_page);
  static const std::vector<HostSample> none;
  std::string fresh_rows, stale_rows;
  for (const NodeRow* n : nodes_on_page(all, page, per_page)) {
    auto h = hours.find(n->name);
    const std::vector<HostSample>& samples = h == hours.end() ? none : h->second;
    std::string name = html_escape(n->name);
    std::string row = "<tr class=\"" + std::string(n->stale ? "stale" : "fresh") + "\" id=\"node-" + name +
                      "\"><td><a href=\"/nodes/" + name + "\">" + name + "</a></td><td>" + when(n->received_at, now) +
                      "</td><td class=\"num\">" + std::to_string(n->free_cores) + " / " + std::to_string(n->capacity_cores) +
                      "</td><td class=\"num\">" + std::to_string(n->free_memory_kib / 1024) + " / " +
                      std::to_string(n->capacity_memory_kib / 1024) + " MiB</td>" +
                      spark_cells(samples, now - kHistoryTiers[0].keep_seconds, now, 60, {}) + summary_cells(n->summary) +
                      "</tr>\n";
    (n->stale ? stale_rows : fresh_rows) += row;
  }
  const char* header =
      "<thead><tr><th>node</th><th>last report</th><th>free cores</th><th>free memory</th><th>CPU use %</th>"
      "<th>load (1 min)</th><th>I/O pressure %</th><th>free memory MiB</th><th>running VMs</th><th>RDMA ports</th>"
      "</tr></thead>";
  std::string body = page_head("smartvm nodes", true) + "<h1>smartvm nodes</h1>\n<p>" +
                     count_of(all.size(), "node", "nodes") + ": " + std::to_string(all.size() - stale) + " fresh, " +
                     std::to_string(stale) + " stale, as of " + format_utc_seconds(now) +
                     " UTC. Sparklines show the last hour. The page refreshes every 10 s.</p>\n";
  if (!fresh_rows.empty()) body += "<table id=\"fresh\">" + std::string(header) + "<tbody>\n" + fresh_rows + "</tbody></table>\n";
  if (!stale_rows.empty())
    body += "<h2 class=\"stale\">Stale: no report for three of their intervals</h2>\n<table id=\"stale\">" +
            std::string(header) + "<tbody>\n" + stale_rows + "</tbody></table>\n";
  if (all.empty()) body += "<p>No node has reported yet.</p>\n";
  if (pages > 1) {
    body += "<nav>Page " + std::to_string(page + 1) + " of " + std::to_string(pages) + ": ";
    if (page > 0) body += "<a href=\"/?page=" + std::to_string(page - 1) + "\">previous</a>";
    if (page + 1 < pages) body += "<a href=\"/?page=" + std::to_string(page + 1) + "\">next</a>";
    body += "</nav>\n";
  }
  return body + "</body></html>\n";
}

std::string node_html(const NodeRow& node, const json::value& report, const std::vector<HostSample>& day, int64_t now) {
  std::string name = html_escape(node.name);
  std::vector<HostSample> hour;
  for (const HostSample& s : day)
    if (s.time >= now - kHistoryTiers[0].keep_seconds) hour.push_back(s);
  SparkStyle wide{360, 40};
  std::string body = page_head("smartvm node " + node.name, true) + "<p><a href=\"/\">all nodes</a></p>\n<h1>" + name +
                     (node.stale ? " (stale)" : "") + "</h1>\n<p>Last report " + when(node.received_at, now) +
                     " (every " + std::to_string(node.interval_seconds) + " s); " + std::to_string(node.free_cores) +
                     " of " + std::to_string(node.capacity_cores) + " cores and " +
                     std::to_string(node.free_memory_kib / 1024) + " of " + std::to_string(node.capacity_memory_kib / 1024) +
                     " MiB free for jobs.</p>\n";
  body += "<table id=\"history\"><thead><tr><th></th><th>CPU use %</th><th>load (1 min)</th><th>I/O pressure %</th>"
          "<th>free memory MiB</th></tr></thead><tbody>\n<tr><td>last hour</td>" +
          spark_cells(hour, now - kHistoryTiers[0].keep_seconds, now, 0, wide) + "</tr>\n<tr><td>last day</td>" +
          spark_cells(day, now - kHistoryTiers[1].keep_seconds, now, 0, wide) + "</tr>\n</tbody></table>\n";
  body += "<h2>Domains</h2>\n" + domains_table(report);
  body += "<h2>Jobs</h2>\n" + jobs_table(report);
  body += "<h2>Guest routes</h2>\n" + routes_table(report);
  body += "<h2>RDMA ports</h2>\n" + rdma_table(report);
  return body + "</body></html>\n";
}

}  // namespace smartvm::frontend
