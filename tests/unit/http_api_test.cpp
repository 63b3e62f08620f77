// Every route and refusal of the frontend's API, without a socket (the real server is tested in
// tests/root/frontend_server_test.cpp with a real HTTP client).
#include "http_api.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <boost/json/parse.hpp>

using namespace smartvm;
using namespace smartvm::frontend;
namespace http = boost::beast::http;

namespace {

const std::string kToken = "0123456789abcdef-post";

struct Fixture {
  test::TempDir t;
  std::unique_ptr<NodeStore> store = NodeStore::open((t / "state.db").string()).value();
  Api api{*store, ApiSettings{kToken, ""}};

  Response call(http::verb verb, const std::string& target, const std::string& body = "", const std::string& token = "") {
    Request req(verb, target, 11);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    return api.handle(req, 1000);
  }
};

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
  Api api(*store, ApiSettings{kToken, "0123456789abcdef-read"});
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
  CHECK(page.body().find("<tr class=\"fresh\" id=\"node-n001\"><td>n001</td><td>fresh</td>") != std::string::npos);
  CHECK(page.body().find("<td>0.25</td>") != std::string::npos);
  CHECK(page.body().find("<td>mlx5_0:1 ACTIVE ib0</td>") != std::string::npos);
  CHECK(page.body().find("http-equiv=\"refresh\"") != std::string::npos);
}
