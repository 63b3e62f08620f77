// Every route and refusal of the frontend's API, without a socket (the real server is tested in
// tests/root/frontend_server_test.cpp with a real HTTP client).
#include "http_api.hpp"

#include "catch_result.hpp"
#include "node_token.hpp"
#include "temp_dir.hpp"

#include <boost/json/parse.hpp>

using namespace smartvm;
using namespace smartvm::frontend;
namespace http = boost::beast::http;

namespace {

const std::string kToken = "0123456789abcdef-post";

const std::string kSecret = "node-secret-0123456789abcdef";

ApiSettings settings(const std::string& read_token = "") {
  ApiSettings s;
  s.post_token = kToken;
  s.read_token = read_token;
  s.node_secret = kSecret;
  return s;
}

struct Fixture {
  explicit Fixture(size_t max_nodes = kDefaultMaxNodes) : store(NodeStore::open((t / "state.db").string(), max_nodes).value()) {}
  test::TempDir t;
  std::unique_ptr<NodeStore> store;
  Api api{*store, settings()};

  static Request request(http::verb verb, const std::string& target, const std::string& body, const std::string& token) {
    Request req(verb, target, 11);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    return req;
  }
  Response call(http::verb verb, const std::string& target, const std::string& body = "", const std::string& token = "",
                int64_t now = 1800000000) {
    return api.handle(request(verb, target, body, token), now);
  }
};

// kReport of `node` made at `time`.
std::string report_of(const std::string& node, const std::string& time = "2026-11-22T04:00:00Z", uint64_t seq = 1) {
  return R"({"schema":1,"node":")" + node + R"(","time":")" + time + R"(","seq":)" + std::to_string(seq) +
         R"(,"capacity":{"cpu_cores":16,"memory_kib":16777216},"domains":[]})";
}

const char* kReport =
    R"({"schema":1,"node":"n001","time":"2026-11-22T04:00:00Z","seq":1,"capacity":{"cpu_cores":16,"memory_kib":16777216},)"
    R"("domains":[],"host":{"load":[0.25,0.5,0.75]},"rdma_ports":[{"device":"mlx5_0","port":1,"state":"ACTIVE","ipoib_interface":"ib0"}]})";

}  // namespace

TEST_CASE("api: a report with the right token is stored and shown", "[api]") {
  Fixture f;
  auto r = f.call(http::verb::post, "/v1/reports", kReport, kToken);
  CHECK(r.result() == http::status::ok);
  CHECK(r.body() == "{\"stored\":true}\n");
  auto nodes = boost::json::parse(f.call(http::verb::get, "/v1/nodes").body()).as_array();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].at("name") == "n001");
  CHECK(nodes[0].at("free_memory_mib") == 16384);
  auto one = boost::json::parse(f.call(http::verb::get, "/v1/nodes/n001").body()).as_object();
  CHECK(one.at("report").at("rdma_ports").as_array().size() == 1);
  CHECK(f.call(http::verb::get, "/v1/nodes/n002").result() == http::status::not_found);
}

TEST_CASE("api: numbers are answered as people write them, not 4.874E1", "[api]") {
  Fixture f;
  std::string report = report_of("n001");
  report.insert(report.size() - 1, R"(,"host":{"cpu_use_percent":48.74,"load":[3.33,2.1,1.35]})");
  REQUIRE(f.call(http::verb::post, "/v1/reports", report, kToken).result() == http::status::ok);
  std::string body = f.call(http::verb::get, "/v1/nodes/n001").body();
  CHECK(body.find(R"("cpu_use_percent":48.74,"load":[3.33,2.1,1.35])") != std::string::npos);
  CHECK(body.find("E") == std::string::npos);
  CHECK(boost::json::parse(body).at("report").at("host").at("load").as_array().size() == 3);
}

TEST_CASE("api: refusals are JSON errors with the right status", "[api]") {
  Fixture f;
  auto no_token = f.call(http::verb::post, "/v1/reports", kReport);
  CHECK(no_token.result() == http::status::unauthorized);
  CHECK(no_token[http::field::content_type] == "application/json");
  CHECK(f.call(http::verb::post, "/v1/reports", kReport, "0123456789abcdef-posx").result() == http::status::unauthorized);
  auto bad = f.call(http::verb::post, "/v1/reports", "{\"schema\":1}", kToken);
  CHECK(bad.result() == http::status::bad_request);
  CHECK(bad.body() == "{\"error\":\"invalid report: node: missing\"}\n");
  CHECK(f.call(http::verb::get, "/v1/reports").result() == http::status::method_not_allowed);
  CHECK(f.call(http::verb::delete_, "/v1/nodes").result() == http::status::method_not_allowed);
  CHECK(f.call(http::verb::get, "/v1/placement?cores=x&memory_mib=1").result() == http::status::bad_request);
  CHECK(f.call(http::verb::get, "/v1/placement?cores=0&memory_mib=1").result() == http::status::bad_request);
  CHECK(f.call(http::verb::get, "/v1/placement?memory_mib=1").result() == http::status::bad_request);
  CHECK(f.call(http::verb::get, "/nope").result() == http::status::not_found);
  CHECK(f.call(http::verb::get, "/v1/nodes/bad%20name").result() == http::status::bad_request);
  auto refused = f.api.refuse_oversized(11, false);
  CHECK(refused.result() == http::status::payload_too_large);
  auto metrics = f.call(http::verb::get, "/metrics").body();
  CHECK(metrics.find("smartvm_frontend_reports_rejected_total{reason=\"unauthorized\"} 2") != std::string::npos);
  CHECK(metrics.find("smartvm_frontend_reports_rejected_total{reason=\"invalid\"} 1") != std::string::npos);
  CHECK(metrics.find("smartvm_frontend_reports_rejected_total{reason=\"too_large\"} 1") != std::string::npos);
}

TEST_CASE("api: with a read token, reads need it too (metrics excepted)", "[api]") {
  test::TempDir t;
  auto store = NodeStore::open((t / "state.db").string()).value();
  Api api(*store, settings("0123456789abcdef-read"));
  Request req(http::verb::get, "/v1/nodes", 11);
  CHECK(api.handle(req, 1000).result() == http::status::unauthorized);
  req.set(http::field::authorization, "Bearer 0123456789abcdef-read");
  CHECK(api.handle(req, 1000).result() == http::status::ok);
  Request metrics(http::verb::get, "/metrics", 11);
  CHECK(api.handle(metrics, 1000).result() == http::status::ok);
}

TEST_CASE("api: the status page has a row per node", "[api]") {
  Fixture f;
  f.call(http::verb::post, "/v1/reports", kReport, kToken);
  auto page = f.call(http::verb::get, "/");
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(page.body().find("<tr class=\"fresh\" id=\"node-n001\"><td><a href=\"/nodes/n001\">n001</a></td>") !=
        std::string::npos);
  CHECK(page.body().find("<span class=\"num\">0.25</span>") != std::string::npos);  // the load, under its sparkline
  CHECK(page.body().find("<td>mlx5_0:1 ACTIVE ib0</td>") != std::string::npos);
  CHECK(page.body().find("http-equiv=\"refresh\"") != std::string::npos);
}

TEST_CASE("api: a report's token is checked from its header, before the body", "[api]") {
  Fixture f;
  auto header = [](const std::string& token) { return Fixture::request(http::verb::post, "/v1/reports", "", token); };
  auto refused = f.api.check_header(header("0123456789abcdef-posx"));
  REQUIRE(refused);
  CHECK(refused->result() == http::status::unauthorized);
  CHECK(!f.api.check_header(header(kToken)));
  CHECK(!f.api.check_header(header(node_token(kSecret, "n001"))));
  CHECK(!f.api.check_header(Fixture::request(http::verb::get, "/v1/nodes", "", "")));  // reads are handle()'s
}

TEST_CASE("api: a node's own token posts its reports only, the shared one any", "[api]") {
  Fixture f;
  std::string n001 = node_token(kSecret, "n001");
  // HMAC-SHA256("node-secret-0123456789abcdef", "n001"), as Python's hmac computes it.
  CHECK(n001 == "n001:6a5ef62ec95cb513ffebf035964cbf2636134a15766ddce3497d6910f0412354");
  CHECK(node_of_token(kSecret, n001) == std::optional<std::string>("n001"));
  CHECK(!node_of_token(kSecret, "n002" + n001.substr(4)));
  CHECK(!node_of_token("", n001));
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n001"), n001).body() == "{\"stored\":true}\n");
  auto other = f.call(http::verb::post, "/v1/reports", report_of("n002"), n001);
  CHECK(other.result() == http::status::forbidden);
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n002"), kToken).result() == http::status::ok);
  CHECK(f.call(http::verb::get, "/metrics").body().find("smartvm_frontend_reports_rejected_total{reason=\"wrong_node\"} 1") !=
        std::string::npos);
}

TEST_CASE("api: a report more than 5 minutes ahead of the frontend's clock is refused", "[api]") {
  Fixture f;
  int64_t now = 1800000000;  // 2027-01-15T08:00:00Z
  auto ahead = f.call(http::verb::post, "/v1/reports", report_of("n001", "2027-01-15T08:05:01Z"), kToken, now);
  CHECK(ahead.result() == http::status::bad_request);
  CHECK(ahead.body() ==
        "{\"error\":\"invalid report: time: 2027-01-15T08:05:01Z is 301 s ahead of the frontend's clock (at most 300 s); "
        "check the node's clock\"}\n");
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n001", "2027-01-15T08:05:00Z"), kToken, now).result() ==
        http::status::ok);
}

TEST_CASE("api: placement and reports with numbers no node has are refused, never wrapped", "[api]") {
  Fixture f;
  for (const char* q : {"/v1/placement?cores=9223372036854775808&memory_mib=1", "/v1/placement?cores=1&memory_mib=9007199254740992",
                        "/v1/placement?cores=9007199254740993&memory_mib=1", "/v1/placement?cores=1&memory_mib=8796093022209"}) {
    INFO(q);
    CHECK(f.call(http::verb::get, q).result() == http::status::bad_request);
  }
  CHECK(f.call(http::verb::get, "/v1/placement?cores=9007199254740992&memory_mib=8796093022208").result() == http::status::ok);
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n001", "2026-02-30T00:00:00Z"), kToken).result() ==
        http::status::bad_request);
  // 2048 domains of 2^53 vCPUs hold 2^64: summed in 64 bits that wrapped to none held, all free.
  std::string many = report_of("n001");
  std::string domains;
  for (int i = 0; i < 2048; ++i)
    domains += std::string(i ? "," : "") + R"({"name":"d)" + std::to_string(i) +
               R"(","state":"running","vcpus":9007199254740992,"memory_kib":9007199254740992})";
  many.replace(many.find("\"domains\":[]"), 12, "\"domains\":[" + domains + "]");
  REQUIRE(f.call(http::verb::post, "/v1/reports", many, kToken).result() == http::status::ok);
  auto node = boost::json::parse(f.call(http::verb::get, "/v1/nodes/n001").body()).as_object();
  CHECK(node.at("free_cores") == 0);
  CHECK(node.at("free_memory_mib") == 0);
}

TEST_CASE("api: past --max-nodes, new names are refused with 507, known ones go on", "[api]") {
  Fixture f(2);
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n1"), kToken).result() == http::status::ok);
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n2"), kToken).result() == http::status::ok);
  auto full = f.call(http::verb::post, "/v1/reports", report_of("n3"), kToken);
  CHECK(full.result() == http::status::insufficient_storage);
  CHECK(full.body() == "{\"error\":\"the frontend keeps at most 2 nodes (--max-nodes); n3 is not one of them\"}\n");
  CHECK(f.call(http::verb::post, "/v1/reports", report_of("n1", "2026-11-22T04:00:10Z", 2), kToken).body() ==
        "{\"stored\":true}\n");
}
