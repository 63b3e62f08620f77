// Every smartvm_* metric the shipped Prometheus rules, their tests and the Grafana dashboard
// query is one that nodeld or the frontend exports: nodeld's /metrics for a snapshot with every
// part filled in (with the report sender's counters), and the frontend's /metrics after that
// snapshot's report was posted to it. A misspelled or renamed metric fails here, not on an
// operator's empty panel or an alert that never fires.
#include "catch_result.hpp"
#include "full_snapshot.hpp"
#include "http_api.hpp"
#include "metrics_text.hpp"
#include "report_json.hpp"
#include "report_sender.hpp"
#include "temp_dir.hpp"
#include "utc_time.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

using namespace smartvm;
namespace http = boost::beast::http;

namespace {

// The metric names of the samples in Prometheus text.
std::set<std::string> sample_names(const std::string& exposition) {
  std::set<std::string> out;
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != '#') out.insert(line.substr(0, line.find_first_of("{ ")));
  return out;
}

std::set<std::string> exported_names() {
  nodeld::Snapshot s = test::full_snapshot();
  boost::asio::io_context io;
  nodeld::ReportSender sender(io, nullptr);
  std::string nodeld_text = nodeld::metrics_text(s) + sender.metrics_text();

  test::TempDir t;
  auto store = frontend::NodeStore::open((t / "state.db").string(), frontend::kDefaultMaxNodes).value();
  frontend::ApiSettings settings;
  settings.post_token = "0123456789abcdef-post";
  frontend::Api api(*store, settings);
  frontend::Request post(http::verb::post, "/v1/reports", 11);
  post.set(http::field::authorization, "Bearer " + settings.post_token);
  post.body() = nodeld::report_text(s);
  post.prepare_payload();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(parse_utc(s.time)->time_since_epoch()).count();
  REQUIRE(api.handle(post, now).result() == http::status::ok);
  frontend::Request get(http::verb::get, "/metrics", 11);
  auto metrics = api.handle(get, now);
  REQUIRE(metrics.result() == http::status::ok);

  std::set<std::string> names = sample_names(nodeld_text);
  for (const std::string& n : sample_names(metrics.body())) names.insert(n);
  return names;
}

// The smartvm_* names in `text` that are not exported (a histogram's _bucket, _sum and _count
// are its family's).
std::set<std::string> unknown_names(const std::string& text, const std::set<std::string>& exported) {
  static const std::regex name("smartvm_[a-z_]+");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    if (exported.count(n)) continue;
    bool family = false;
    for (const std::string suffix : {"_bucket", "_sum", "_count"})
      if (n.size() > suffix.size() && n.ends_with(suffix) && exported.count(n.substr(0, n.size() - suffix.size())))
        family = true;
    if (!family) out.insert(n);
  }
  return out;
}

}  // namespace

TEST_CASE("metrics: every metric the shipped alerts, their tests and the dashboard use is exported", "[metrics][nodeld][api]") {
  std::set<std::string> exported = exported_names();
  // What the test must see for it to mean anything: a name of each program.
  REQUIRE(exported.count("smartvm_node_io_pressure_target_ratio"));
  REQUIRE(exported.count("smartvm_domain_throttle_at_floor"));
  REQUIRE(exported.count("smartvm_node_free_cores"));
  size_t used = 0;
  for (const char* file : {"examples/prometheus/smartvm-alerts.yml", "examples/prometheus/smartvm-alerts.test.yml",
                           "examples/grafana/smartvm-dashboard.json"}) {
    std::string text = test::read_file(std::string(SMARTVM_SOURCE_DIR) + "/" + file);
    std::set<std::string> unknown = unknown_names(text, exported);
    INFO(file << ": " << Catch::Detail::stringify(std::vector<std::string>(unknown.begin(), unknown.end())));
    CHECK(unknown.empty());
    used += unknown_names(text, {}).size();
  }
  CHECK(used >= 20);  // the files were read and hold the names
  // The check itself: one letter off is caught.
  CHECK(unknown_names("expr: smartvm_node_io_presure_target_ratio > 0", exported) ==
        std::set<std::string>{"smartvm_node_io_presure_target_ratio"});
  CHECK(unknown_names("rate(smartvm_domain_block_read_bytes_total[5m])", exported).empty());
}
