// The frontend's history and status page through its API, without a socket (the real server
// and a real browser are in tests/integration/frontend_server_test.cpp).
#include "http_api.hpp"
#include "status_page.hpp"
#include "utc_time.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <boost/json/parse.hpp>

#include <sqlite3.h>

#include <regex>

using namespace smartvm;
using namespace smartvm::frontend;
namespace http = boost::beast::http;

namespace {

const std::string kToken = "0123456789abcdef-post";
constexpr int64_t kStart = 1800000000;  // 2027-01-15T08:00:00Z

struct Site {
  explicit Site(uint64_t forget_after = 0) : store(NodeStore::open((t / "state.db").string()).value()) {
    ApiSettings s;
    s.post_token = kToken;
    s.forget_after_seconds = forget_after;
    api = std::make_unique<Api>(*store, s);
  }
  test::TempDir t;
  std::unique_ptr<NodeStore> store;
  std::unique_ptr<Api> api;

  Response call(http::verb verb, const std::string& target, int64_t now, const std::string& body = "",
                const std::string& token = "") {
    Request req(verb, target, 11);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    return api->handle(req, now);
  }
  // A report of `node` made and arriving at `now`, with the host's numbers.
  Response post(const std::string& node, int64_t now, double cpu, const std::string& extra = "") {
    std::string time = format_utc(std::chrono::system_clock::from_time_t(now));
    std::string body = R"({"schema":1,"node":")" + node + R"(","time":")" + time + R"(","seq":)" +
                       std::to_string(now) + R"(,"interval_seconds":10,"capacity":{"cpu_cores":16,"memory_kib":16777216},)" +
                       R"("host":{"cpu_use_percent":)" + std::to_string(cpu) +
                       R"(,"load":[1.5,1,0.5],"memory_free_kib":8388608,"pressure":{"io":2.5}},"domains":[)" + extra + "]}";
    return call(http::verb::post, "/v1/reports", now, body, kToken);
  }
};

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// The points of the first sparkline after `from` in `page`.
size_t points_of_first_spark(const std::string& page, size_t from) {
  size_t svg = page.find("<svg class=\"spark\"", from);
  size_t end = page.find("</svg>", svg);
  std::string s = page.substr(svg, end - svg);
  size_t n = 0;
  std::regex point("-?[0-9.]+,-?[0-9.]+");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), point); it != std::sregex_iterator(); ++it) ++n;
  return n;
}

}  // namespace

TEST_CASE("page: three nodes with an hour of history and one stale node", "[page]") {
  Site site;
  // 30 minutes of reports every 10 s from three nodes; a fourth reported once, long ago.
  REQUIRE(site.post("old-node", kStart - 7200, 5).result() == http::status::ok);
  for (int64_t t = kStart - 1800; t <= kStart; t += 10)
    for (const char* n : {"n1", "n2", "n3"}) REQUIRE(site.post(n, t, 40 + (t / 10) % 20).result() == http::status::ok);
  std::string page = site.call(http::verb::get, "/", kStart).body();
  CHECK(page.find("4 nodes: 3 fresh, 1 stale") != std::string::npos);
  // The stale node is apart, after the fresh ones.
  size_t stale_table = page.find("<table id=\"stale\">");
  REQUIRE(stale_table != std::string::npos);
  CHECK(page.find("id=\"node-old-node\"") > stale_table);
  CHECK(page.find("id=\"node-n1\"") < stale_table);
  // Four sparklines a node, one point a minute: 30 minutes of reports are 31 points.
  size_t row = page.find("id=\"node-n2\"");
  CHECK(count(page.substr(row, page.find("</tr>", row) - row), "<svg class=\"spark\"") == 4);
  CHECK(points_of_first_spark(page, row) == 31);
  // The stale node's one report is two hours old: no point in the last hour.
  CHECK(points_of_first_spark(page, page.find("id=\"node-old-node\"")) == 0);
  CHECK(page.find("2 h ago") != std::string::npos);
}

TEST_CASE("page: plurals and ages read as people write them", "[page]") {
  CHECK(count_of(1, "node", "nodes") == "1 node");
  CHECK(count_of(0, "node", "nodes") == "0 nodes");
  CHECK(ago(5) == "5 s ago");
  CHECK(ago(600) == "10 min ago");
  CHECK(ago(3 * 86400) == "3 days ago");
  Site site;
  site.post("only", kStart, 1);
  CHECK(site.call(http::verb::get, "/", kStart).body().find("1 node: 1 fresh, 0 stale") != std::string::npos);
}

TEST_CASE("page: a node's own page lists its domains and escapes what they are called", "[page]") {
  Site site;
  REQUIRE(site.post("n1", kStart, 10,
                    R"({"name":"<script>alert(1)</script>","state":"running","vcpus":2,"memory_kib":2097152,)"
                    R"("throttle":{"read_bytes_sec":1048576,"write_bytes_sec":0,"read_iops_sec":0,"write_iops_sec":0},)"
                    R"("io_pressure":12.5,"interfaces":[{"device":"vif1.0","addresses":["10.10.0.5"]}]})")
              .result() == http::status::ok);
  auto r = site.call(http::verb::get, "/nodes/n1", kStart);
  REQUIRE(r.result() == http::status::ok);
  std::string page = r.body();
  CHECK(page.find("<script>") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("read_bytes_sec 1048576") != std::string::npos);
  CHECK(page.find("12.5 %") != std::string::npos);
  CHECK(page.find("<td>vif1.0</td><td>10.10.0.5</td>") != std::string::npos);
  CHECK(page.find("No jobs.") != std::string::npos);
  CHECK(site.call(http::verb::get, "/nodes/nobody", kStart).result() == http::status::not_found);
}

TEST_CASE("page: 2,000 nodes are shown 100 at a time", "[page]") {
  Site site;
  for (int i = 0; i < 250; ++i) REQUIRE(site.post("n" + std::to_string(1000 + i), kStart, 1).result() == http::status::ok);
  std::string first = site.call(http::verb::get, "/", kStart).body();
  CHECK(count(first, "<tr class=\"fresh\"") == 100);
  CHECK(first.find("Page 1 of 3") != std::string::npos);
  std::string last = site.call(http::verb::get, "/?page=2", kStart).body();
  CHECK(count(last, "<tr class=\"fresh\"") == 50);
  CHECK(site.call(http::verb::get, "/?page=x", kStart).result() == http::status::bad_request);
}

TEST_CASE("history: bounded whatever the uptime, and answered in JSON for scripts", "[history]") {
  Site site;
  // Three days of reports every 5 s: 51,840 reports. A day back, the history is 23 hours at one
  // point per 5 minutes (276) and the last hour at one per 10 s (361, both ends included).
  int64_t end = kStart + 3 * 86400;
  for (int64_t t = kStart; t <= end; t += 5) REQUIRE(site.post("n1", t, 50).result() == http::status::ok);
  auto all = site.store->history("n1", 0, end);
  REQUIRE(all);
  CHECK(all->size() == 276 + 361);
  CHECK(all->front().time >= end - 86400);
  auto r = site.call(http::verb::get, "/v1/nodes/n1/history?since=" + format_utc(std::chrono::system_clock::from_time_t(end - 60)), end);
  REQUIRE(r.result() == http::status::ok);
  auto points = boost::json::parse(r.body()).as_array();
  CHECK(points.size() == 7);  // one per 10 s bucket from a minute ago to now
  CHECK(points.back().at("cpu_use_percent").to_number<double>() == 50.0);
  CHECK(points.back().at("io_pressure").to_number<double>() == 2.5);
  CHECK(r.body().find("\"load1\":1.5") != std::string::npos);
  CHECK(site.call(http::verb::get, "/v1/nodes/n1/history?since=yesterday", end).result() == http::status::bad_request);
  CHECK(site.call(http::verb::get, "/v1/nodes/n9/history", end).result() == http::status::not_found);
}

TEST_CASE("a node is forgotten with the write token, or after --forget-after of silence", "[history]") {
  Site site(86400);
  site.post("gone", kStart, 1);
  site.post("kept", kStart, 1);
  CHECK(site.call(http::verb::delete_, "/v1/nodes/gone", kStart).result() == http::status::unauthorized);
  CHECK(site.call(http::verb::delete_, "/v1/nodes/gone", kStart, "", "wrong-token-0123456789").result() ==
        http::status::unauthorized);
  CHECK(site.call(http::verb::delete_, "/v1/nodes/gone", kStart, "", kToken).result() == http::status::ok);
  CHECK(site.call(http::verb::get, "/v1/nodes/gone", kStart).result() == http::status::not_found);
  CHECK(site.store->history("gone", 0, kStart)->empty());
  CHECK(site.call(http::verb::delete_, "/v1/nodes/gone", kStart, "", kToken).result() == http::status::not_found);
  // A day and a minute later, "kept" has been silent past --forget-after: the next request forgets it.
  CHECK(site.call(http::verb::get, "/v1/nodes/kept", kStart + 3600).result() == http::status::ok);
  CHECK(site.call(http::verb::get, "/v1/nodes/kept", kStart + 86400 + 60).result() == http::status::not_found);
  CHECK(site.store->history("kept", 0, kStart + 86400 + 60)->empty());
}

TEST_CASE("GET /v1/dump is a consistent copy of the database an operator opens with SQLite", "[history]") {
  Site site;
  for (int64_t t = kStart; t < kStart + 100; t += 10) site.post("n1", t, 10);
  site.post("n2", kStart, 10);
  auto r = site.call(http::verb::get, "/v1/dump", kStart + 100);
  REQUIRE(r.result() == http::status::ok);
  CHECK(r[http::field::content_type] == "application/vnd.sqlite3");
  std::string copy = (site.t / "copy.db").string();
  FILE* f = std::fopen(copy.c_str(), "w");
  REQUIRE(f);
  std::fwrite(r.body().data(), 1, r.body().size(), f);
  std::fclose(f);
  // The running frontend's database stays locked to it; the copy opens read-only beside it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto count = [db](const char* sql) {
    sqlite3_stmt* st = nullptr;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
  };
  CHECK(count("SELECT count(*) FROM nodes") == 2);
  CHECK(count("SELECT count(*) FROM history WHERE name = 'n1' AND tier = 0") == 10);
  sqlite3_close(db);
}
