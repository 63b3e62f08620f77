// Job domains as nodeld sees them: smartvm-run's metadata read from the domain XML (whatever
// prefix binds its namespace), a job domain of libvirt's test driver in the report's jobs[] and
// in /metrics, and the frontend's node page showing those fields.
#include "catch_result.hpp"
#include "domain_devices.hpp"
#include "domain_xml.hpp"
#include "libvirt_source.hpp"
#include "metrics_text.hpp"
#include "report_json.hpp"
#include "status_page.hpp"
#include "utc_time.hpp"

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <libvirt/libvirt.h>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// A test-driver domain as smartvm-run marks it (launcher/domain_xml.cpp), with prefix `prefix`.
std::string job_domain_xml(const std::string& name, const std::string& prefix, const std::string& job_id,
                           const std::string& launcher_pid) {
  const std::string p = prefix + ":";
  return "<domain type='test'><name>" + name + "</name><metadata><" + p + "job xmlns:" + prefix + "='" +
         kJobMetadataNamespace + "'><" + p + "service>blast</" + p + "service><" + p + "job_id>" + job_id + "</" + p +
         "job_id><" + p + "owner>alice</" + p + "owner><" + p + "launcher_pid>" + launcher_pid + "</" + p +
         "launcher_pid></" + p + "job></metadata><memory>524288</memory><vcpu>2</vcpu><os><type>hvm</type></os>"
         "<devices><disk type='file' device='disk'><source file='/run/smartvm/jobs/" + job_id +
         "/disk.qcow2'/><target dev='vda'/></disk><disk type='file' device='cdrom'><source file='/run/smartvm/jobs/" +
         job_id + "/context.iso'/><target dev='hdc'/></disk></devices></domain>";
}

}  // namespace

TEST_CASE("nodeld: smartvm-run's job metadata is read from the domain XML, whatever its prefix", "[nodeld][jobs]") {
  auto facts = domain_facts_from_xml(job_domain_xml("smartvm-j1", "sv", "j1", "4242"));
  REQUIRE(facts);
  REQUIRE(facts->job);
  CHECK(facts->job->service == "blast");
  CHECK(facts->job->job_id == "j1");
  CHECK(facts->job->owner == "alice");
  CHECK(facts->job->launcher_pid == 4242);
  CHECK(facts->file_sources == std::vector<std::string>{"/run/smartvm/jobs/j1/disk.qcow2", "/run/smartvm/jobs/j1/context.iso"});

  // Another namespace under the same element name is somebody else's metadata.
  std::string foreign = job_domain_xml("other", "sv", "j2", "1");
  foreign.replace(foreign.find(kJobMetadataNamespace), std::string(kJobMetadataNamespace).size(), "https://example.org/x");
  auto other = domain_facts_from_xml(foreign);
  REQUIRE(other);
  CHECK(!other->job);
  // A launcher pid that is not one: a job, with no launcher to check.
  auto bad_pid = domain_facts_from_xml(job_domain_xml("smartvm-j3", "smartvm", "j3", "x1"));
  REQUIRE(bad_pid);
  REQUIRE(bad_pid->job);
  CHECK(bad_pid->job->launcher_pid == 0);
  CHECK(!domain_facts_from_xml("<domain><name>x</name>"));
}

TEST_CASE("nodeld: reads what smartvm-run writes (the launcher's own domain XML)", "[nodeld][jobs]") {
  // One contract in two programs that cannot see each other's headers: the launcher writes, nodeld reads.
  launcher::DomainPlan plan;
  plan.name = "smartvm-blast-j9";
  plan.overlay = "/run/smartvm/jobs/j9/disk.qcow2";
  plan.context_iso = "/run/smartvm/jobs/j9/context.iso";
  plan.console_socket = "/run/smartvm/jobs/j9/console.sock";
  plan.status_socket = "/run/smartvm/jobs/j9/status.sock";
  plan.tap_name = "vnet-j9";
  plan.service = "blast";
  plan.job_id = "j9";
  plan.owner = "bob <b&b>";
  plan.launcher_pid = 31337;
  plan.job_dir = "/run/smartvm/jobs/j9";
  auto facts = domain_facts_from_xml(launcher::domain_xml(plan));
  REQUIRE(facts);
  REQUIRE(facts->job);
  CHECK(facts->job->service == "blast");
  CHECK(facts->job->job_id == "j9");
  CHECK(facts->job->owner == "bob <b&b>");
  CHECK(facts->job->launcher_pid == 31337);
  CHECK(facts->job->job_dir == "/run/smartvm/jobs/j9");
  CHECK(facts->file_sources == std::vector<std::string>{plan.overlay, plan.context_iso});
}

TEST_CASE("nodeld: a job domain of the test driver is in the report's jobs and in /metrics", "[nodeld][jobs]") {
  LibvirtSource source("test:///default", [](const DomainEvent&) {});
  virConnectPtr admin = virConnectOpen("test:///default");
  REQUIRE(admin);
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  virDomainPtr dom = virDomainCreateXML(admin, job_domain_xml("smartvm-jreport", "smartvm", "jreport", "77").c_str(), 0);
  REQUIRE(dom);
  auto stats = source.collect();
  virDomainDestroy(dom);
  virDomainFree(dom);
  virConnectClose(admin);
  REQUIRE(stats);

  Snapshot s;
  s.node = "n1";
  s.time = "2026-11-22T04:00:00Z";
  s.hypervisor = *stats;
  auto v = boost::json::parse(report_text(s));
  const auto& jobs = v.at("jobs").as_array();
  REQUIRE(jobs.size() == 1);  // test:///default's own domain is no job
  const auto& j = jobs.at(0);
  CHECK(j.at("job_id").as_string() == "jreport");
  CHECK(j.at("service").as_string() == "blast");
  CHECK(j.at("owner").as_string() == "alice");
  CHECK(j.at("state").as_string() == "running");
  CHECK(j.at("cores").as_int64() == 2);
  CHECK(j.at("memory_kib").as_int64() == 524288);
  CHECK(j.at("domain").as_string() == "smartvm-jreport");
  auto since = parse_utc(std::string(j.at("since").as_string()));
  REQUIRE(since);
  CHECK(*since >= std::chrono::time_point_cast<std::chrono::seconds>(before));
  CHECK(*since <= std::chrono::system_clock::now());

  std::string metrics = metrics_text(s);
  CHECK(metrics.find("smartvm_job_info{job_id=\"jreport\",service=\"blast\",owner=\"alice\",state=\"running\","
                     "domain=\"smartvm-jreport\"} 1\n") != std::string::npos);
  CHECK(metrics.find("smartvm_node_jobs{node=\"n1\",state=\"running\"} 1\n") != std::string::npos);

  // The frontend's node page shows the job with these field names.
  frontend::NodeRow row;
  row.name = "n1";
  std::string page = frontend::node_html(row, v, {}, 0);
  CHECK(page.find("No jobs.") == std::string::npos);
  CHECK(page.find("<td>jreport</td><td>blast</td><td>alice</td><td>running</td><td>" +
                  std::string(j.at("since").as_string()) + "</td><td class=\"num\">2</td><td class=\"num\">512") !=
        std::string::npos);
}

TEST_CASE("nodeld: a node without job domains reports an empty jobs array and no job series", "[nodeld][jobs]") {
  Snapshot s;
  s.node = "n1";
  s.time = "2026-11-22T04:00:00Z";
  s.hypervisor = HypervisorStats{};
  s.hypervisor->domains.push_back(DomainStats{});
  s.hypervisor->domains.back().name = "plain";
  auto v = boost::json::parse(report_text(s));
  CHECK(v.at("jobs").as_array().empty());
  CHECK(metrics_text(s).find("smartvm_job_info") == std::string::npos);
}
