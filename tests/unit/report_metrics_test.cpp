// A snapshot as the report (checked by the frontend's own decoder) and as Prometheus text
// (checked by promtool, Debian's prometheus package).
#include "catch_result.hpp"
#include "full_snapshot.hpp"
#include "metrics_text.hpp"
#include "node_report.hpp"
#include "process.hpp"
#include "report_json.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

Snapshot sample() { return test::full_snapshot(); }

}  // namespace

TEST_CASE("nodeld: the report is what the frontend's decoder accepts, with the hypervisor's capacity", "[nodeld][report]") {
  std::string text = report_text(sample());
  auto decoded = decode_report(text);
  REQUIRE(decoded);
  CHECK(decoded->node == "node042");
  CHECK(decoded->seq == 7);
  CHECK(decoded->capacity_cores == 32);
  CHECK(decoded->domains.size() == 2);
  CHECK(decoded->free_cores() == 28);  // the shut-off domain holds nothing
  auto v = boost::json::parse(text);
  // Numbers as people write them (json_text), never Boost.JSON's 1.235E1.
  CHECK(text.find("\"cpu_use_percent\":12.35") != std::string::npos);
  CHECK(text.find("E1") == std::string::npos);
  CHECK(v.at("host").at("cpu_use_percent").as_double() == Approx(12.35));
  CHECK(v.at("host").at("pressure").at("io").as_double() == Approx(12.5));
  CHECK(v.at("domains").at(0).at("block").at(0).at("wr_bytes").as_int64() == 2);
  CHECK(v.at("domains").at(0).at("throttle").at("read_bytes_sec").as_int64() == 1 << 20);
  CHECK(v.at("domains").at(0).at("io_pressure").as_double() == Approx(37.5));
  CHECK(!v.at("domains").at(1).as_object().contains("io_pressure"));
  CHECK(v.at("rdma_ports").at(0).at("ipoib_mode").as_string() == "connected");
  CHECK(v.at("stale").at("rdma").at("age_seconds").as_int64() == 30);
  CHECK(v.at("domains").at(0).at("throttle_reason").as_string() ==
        "adaptive: host io pressure 12.5% over target 10.0%; at the floor");
  CHECK(!v.at("domains").at(1).as_object().contains("throttle_reason"));
  CHECK(v.at("jobs").at(0).at("job_id").as_string() == "j1");
}

TEST_CASE("nodeld: before libvirt first answers, the report carries the host's size and says libvirt is stale",
          "[nodeld][report]") {
  Snapshot s = sample();
  s.hypervisor.reset();
  s.stale["libvirt"] = Staleness{-1, "cannot connect to qemu:///system"};
  auto decoded = decode_report(report_text(s));
  REQUIRE(decoded);
  CHECK(decoded->capacity_cores == 4);
  CHECK(decoded->domains.empty());
  auto v = boost::json::parse(report_text(s));
  CHECK(!v.at("stale").at("libvirt").as_object().contains("age_seconds"));
}

TEST_CASE("nodeld: metrics text passes promtool check metrics", "[nodeld][metrics]") {
  std::string text = metrics_text(sample());
  CHECK(text.find("smartvm_domain_state{domain=\"job\\\"1\",uuid=\"u-1\",state=\"running\"} 1\n") != std::string::npos);
  CHECK(text.find("smartvm_node_source_up{node=\"node042\",source=\"rdma\"} 0\n") != std::string::npos);
  CHECK(text.find("smartvm_rdma_port_rate_bytes_per_second{device=\"mlx5_0\",port=\"1\"} 12500000000\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_block_write_bytes_total{domain=\"job\\\"1\",device=\"vda\"} 2\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_io_pressure_some_ratio{domain=\"job\\\"1\"} 0.375\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_io_pressure_some_seconds_total{domain=\"job\\\"1\"} 2.5\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_io_pressure_some_ratio{domain=\"job2\"}") == std::string::npos);
  CHECK(text.find("smartvm_node_io_pressure_target_ratio{node=\"node042\"} 0.1\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_throttle_at_floor{domain=\"job\\\"1\"} 1\n") != std::string::npos);
  CHECK(text.find("smartvm_domain_throttle_at_floor{domain=\"job2\"}") == std::string::npos);
  CHECK(text.find("smartvm_jobs_cleaned_total{node=\"node042\"} 3\n") != std::string::npos);
  test::TempDir t;
  test::write_file(t / "metrics.txt", text);
  auto r = test::run_process({"/bin/sh", "-c", "promtool check metrics < " + (t / "metrics.txt").string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());  // promtool prints lint problems, if any, there
}

TEST_CASE("nodeld: label values are escaped", "[nodeld][metrics]") {
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("nodeld: a node whose domains could not be read offers nothing for placement", "[nodeld][report]") {
  Snapshot s = sample();
  auto fresh = decode_report(report_text(s));
  REQUIRE(fresh);
  CHECK(fresh->free_cores() == 28);
  s.stale["libvirt"] = Staleness{40, "no answer within the deadline"};
  auto stale = decode_report(report_text(s));
  REQUIRE(stale);
  CHECK(stale->hypervisor_stale);
  CHECK(stale->free_cores() == 0);
  CHECK(stale->free_memory_kib() == 0);
}

TEST_CASE("nodeld: a node whose repository does not answer is unfit for jobs, and offers nothing", "[nodeld][report]") {
  Snapshot s = sample();
  s.repository = ProbeResult{"10.10.0.1:2049", false, 2000, "no connection within 2000 ms"};
  auto v = boost::json::parse(report_text(s));
  CHECK(v.at("fit_for_jobs").as_bool() == false);
  CHECK(v.at("repository").at("error").as_string() == "no connection within 2000 ms");
  auto decoded = decode_report(report_text(s));
  REQUIRE(decoded);
  CHECK(!decoded->fit_for_jobs);
  CHECK(decoded->free_cores() == 0);
  s.repository->reachable = true;
  s.repository->error.clear();
  CHECK(decode_report(report_text(s))->free_cores() == 28);
  CHECK(metrics_text(s).find("smartvm_node_repository_reachable{node=\"node042\",probe=\"10.10.0.1:2049\"} 1") !=
        std::string::npos);
}
