// LibvirtSource against libvirt's own test driver, in process: node XML files with many
// domains in every state, lifecycle events from starting and destroying test domains, and URIs
// that cannot be opened.
#include "catch_result.hpp"
#include "libvirt_source.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <condition_variable>
#include <mutex>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// A test-driver node: 32 CPUs, 64 GiB, `n` domains cycling through running, shut off, paused.
std::string node_xml(int n) {
  std::string x =
      "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>32</active><nodes>1</nodes><sockets>2</sockets>"
      "<cores>8</cores><threads>2</threads></cpu><memory>67108864</memory>\n";
  for (int i = 0; i < n; ++i) {
    static const char* runstate[] = {"1", "5", "3"};
    char name[32];
    std::snprintf(name, sizeof name, "job%04d", i);
    x += std::string("<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>") + name +
         "</name><memory>1048576</memory><vcpu>" + std::to_string(1 + i % 4) +
         "</vcpu><os><type>hvm</type></os><test:runstate>" + runstate[i % 3] + "</test:runstate></domain>\n";
  }
  return x + "</node>\n";
}

struct EventLog {
  std::mutex m;
  std::condition_variable cv;
  std::vector<DomainEvent> events;
  void add(const DomainEvent& e) {
    std::lock_guard l(m);
    events.push_back(e);
    cv.notify_all();
  }
  bool wait_for(const std::string& name, const std::string& event) {
    std::unique_lock l(m);
    return cv.wait_for(l, std::chrono::seconds(5), [&] {
      return std::any_of(events.begin(), events.end(), [&](const DomainEvent& e) { return e.name == name && e.event == event; });
    });
  }
};

}  // namespace

TEST_CASE("nodeld: one bulk call reads every domain of a test-driver node, in every state", "[nodeld][libvirt]") {
  test::TempDir t;
  test::write_file(t / "node.xml", node_xml(30));
  LibvirtSource source("test://" + (t / "node.xml").string(), [](const DomainEvent&) {});
  auto stats = source.collect();
  REQUIRE(stats);
  CHECK(stats->cpu_cores == 32);
  CHECK(stats->memory_kib == 67108864);
  REQUIRE(stats->domains.size() == 30);
  std::map<std::string, int> states;
  for (const DomainStats& d : stats->domains) ++states[d.state];
  CHECK(states["running"] == 10);
  CHECK(states["shutoff"] == 10);
  CHECK(states["paused"] == 10);
  // The test driver gives only the state group: size comes from virDomainGetInfo instead.
  const DomainStats& d3 = stats->domains[3];
  CHECK(d3.name == "job0003");
  CHECK(d3.vcpus == 4);
  CHECK(d3.memory_kib == 1048576);
  CHECK(d3.uuid.size() == 36);
  CHECK(std::is_sorted(stats->domains.begin(), stats->domains.end(),
                       [](const DomainStats& a, const DomainStats& b) { return a.name < b.name; }));
}

TEST_CASE("nodeld: lifecycle events arrive between cycles", "[nodeld][libvirt]") {
  EventLog log;
  // test:///default is one node shared by every connection of this process: the source sees
  // what the second connection does.
  LibvirtSource source("test:///default", [&](const DomainEvent& e) { log.add(e); });
  auto before = source.collect();
  REQUIRE(before);
  virConnectPtr admin = virConnectOpen("test:///default");
  REQUIRE(admin);
  const char* xml = "<domain type='test'><name>evt1</name><memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>";
  virDomainPtr dom = virDomainCreateXML(admin, xml, 0);
  REQUIRE(dom);
  CHECK(log.wait_for("evt1", "started"));
  auto during = source.collect();
  REQUIRE(during);
  CHECK(std::any_of(during->domains.begin(), during->domains.end(),
                    [](const DomainStats& d) { return d.name == "evt1" && d.state == "running"; }));
  CHECK(virDomainDestroy(dom) == 0);
  CHECK(log.wait_for("evt1", "stopped"));
  virDomainFree(dom);
  virConnectClose(admin);
  {
    std::lock_guard l(log.m);
    auto started = std::find_if(log.events.begin(), log.events.end(), [](const DomainEvent& e) { return e.event == "started"; });
    REQUIRE(started != log.events.end());
    CHECK(started->state == "running");
    CHECK(started->uuid.size() == 36);
  }
  auto after = source.collect();
  REQUIRE(after);
  CHECK(std::none_of(after->domains.begin(), after->domains.end(), [](const DomainStats& d) { return d.name == "evt1"; }));
}

TEST_CASE("nodeld: a hypervisor that cannot be reached is an error, retried with backoff", "[nodeld][libvirt]") {
  test::TempDir t;
  LibvirtSource source("test://" + (t / "absent.xml").string(), [](const DomainEvent&) {});
  auto first = source.collect();
  REQUIRE(!first);
  CHECK(first.error().message.find("cannot connect to test://") != std::string::npos);
  // At once again: not another attempt, but the same error and when the next attempt is due.
  auto second = source.collect();
  REQUIRE(!second);
  CHECK(second.error().message.find("next attempt in") != std::string::npos);
}

TEST_CASE("nodeld: libvirt states have the report's names", "[nodeld][libvirt]") {
  CHECK(std::string(domain_state_name(VIR_DOMAIN_RUNNING)) == "running");
  CHECK(std::string(domain_state_name(VIR_DOMAIN_SHUTOFF)) == "shutoff");
  CHECK(std::string(domain_state_name(VIR_DOMAIN_PMSUSPENDED)) == "pmsuspended");
  CHECK(std::string(domain_state_name(99)) == "nostate");
}

TEST_CASE("nodeld: a running domain's interfaces and addresses come from its XML", "[nodeld][libvirt]") {
  test::TempDir t;
  test::write_file(t / "node.xml",
                   "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes><sockets>1</sockets>"
                   "<cores>4</cores><threads>1</threads></cpu><memory>8388608</memory>"
                   "<domain type='test'><name>g</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
                   "<devices><interface type='ethernet'><target dev='vif5.0'/><ip address='10.10.0.50' prefix='32'/>"
                   "<ip address='10.10.0.51'/><ip address='fd00::5' family='ipv6'/></interface>"
                   "<interface type='ethernet'><target dev='vif5.1'/></interface></devices></domain></node>\n");
  LibvirtSource source("test://" + (t / "node.xml").string(), [](const DomainEvent&) {});
  auto stats = source.collect();
  REQUIRE(stats);
  REQUIRE(stats->domains.size() == 1);
  const auto& ifs = stats->domains[0].interfaces;
  REQUIRE(ifs.size() == 1);  // vif5.1 has no address
  CHECK(ifs[0].device == "vif5.0");
  CHECK(ifs[0].addresses == std::vector<std::string>{"10.10.0.50", "10.10.0.51"});
  auto again = source.collect();  // from the cache now, the same
  REQUIRE(again);
  CHECK(again->domains[0].interfaces.size() == 1);
}

TEST_CASE("nodeld: domain XML that does not parse is an error naming the line", "[nodeld][libvirt]") {
  auto bad = guest_interfaces_from_xml("<domain>\n<devices>\n<interface>\n</domain>");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("line") != std::string::npos);
  auto none = guest_interfaces_from_xml("<domain><name>x</name></domain>");
  REQUIRE(none);
  CHECK(none->empty());
}
