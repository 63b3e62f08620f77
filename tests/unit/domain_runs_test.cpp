// What nodeld reads once per run of a domain, kept by name (domain_runs.hpp): nothing asked of
// libvirt again for a domain that did not change, and a domain destroyed and made again under
// the same name (another uuid, other devices) read again at the next cycle, for the report's
// source and for the throttle. libvirt's test driver in process (test:///default is one node
// shared by every connection of the process: an admin connection changes what the readers see).
#include "catch_result.hpp"
#include "domain_runs.hpp"
#include "libvirt_block_tune.hpp"
#include "libvirt_source.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <condition_variable>
#include <mutex>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// Lifecycle events as the reader's connection got them: once one is here, so is its mark.
struct Events {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> seen;  // name, event
  LibvirtConnection::EventCallback callback() {
    return [this](const DomainEvent& e) {
      std::lock_guard l(m);
      seen.emplace_back(e.name, e.event);
      cv.notify_all();
    };
  }
  bool wait_for(const std::string& name, const std::string& event, size_t count = 1) {
    std::unique_lock l(m);
    return cv.wait_for(l, std::chrono::seconds(5), [&] {
      return size_t(std::count(seen.begin(), seen.end(), std::pair{name, event})) >= count;
    });
  }
};

// A transient running domain with one interface (`vif`, `address`) and one disk (`disk`).
std::string domain_xml(const std::string& name, const std::string& uuid, const std::string& vif,
                       const std::string& address, const std::string& disk) {
  return "<domain type='test'><name>" + name + "</name><uuid>" + uuid +
         "</uuid><memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>"
         "<disk type='file' device='disk'><source file='/images/" + disk + ".qcow2'/><target dev='" + disk +
         "' bus='virtio'/></disk><interface type='ethernet'><target dev='" + vif + "'/><ip address='" + address +
         "'/></interface></devices></domain>";
}

const DomainStats& find(const HypervisorStats& h, const std::string& name) {
  auto it = std::find_if(h.domains.begin(), h.domains.end(), [&](const DomainStats& d) { return d.name == name; });
  REQUIRE(it != h.domains.end());
  return *it;
}

const GuestBlockLoad& find(const std::vector<GuestBlockLoad>& loads, const std::string& name) {
  auto it = std::find_if(loads.begin(), loads.end(), [&](const GuestBlockLoad& g) { return g.name == name; });
  REQUIRE(it != loads.end());
  return *it;
}

struct Admin {
  virConnectPtr conn = virConnectOpen("test:///default");
  ~Admin() { virConnectClose(conn); }
  // Destroys the running domain `name` (transient: gone with it).
  void destroy(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(conn, name.c_str());
    REQUIRE(d);
    CHECK(virDomainDestroy(d) == 0);
    virDomainFree(d);
  }
  // Starts run `run` (1, 2, ...) of domain `name` (ending in a hex digit): a uuid of its own
  // (...00<name's last character><run>), interface vif7<run>.0 at
  // 10.10.0.7<run>, disk `disk`; returns once the reader's connection saw it start.
  void start(Events& events, const std::string& name, int run, const std::string& disk) {
    std::string n = std::to_string(run);
    virDomainPtr d = virDomainCreateXML(
        conn, domain_xml(name, std::string("7d8e6f4a-0000-4000-8000-0000000000") + name.back() + n, "vif7" + n + ".0", "10.10.0.7" + n, disk).c_str(), 0);
    REQUIRE(d);
    virDomainFree(d);
    REQUIRE(events.wait_for(name, "started", size_t(run)));
  }
};

}  // namespace

TEST_CASE("domain runs: kept by name, checked only on a mark, a change of state or CPU time going back", "[nodeld][libvirt]") {
  DomainRuns<std::string> runs;
  int identified = 0, read = 0;
  DomainIdentity current{"u1", 5};
  auto get = [&](const std::string& name, RunSigns signs) {
    return runs.get(
               name, signs, [&] { return ++identified, current; },
               [&](const DomainIdentity& id) { return ++read, id.uuid + "/" + std::to_string(id.id); })
        .facts;
  };
  runs.begin(1, true, {});
  CHECK(get("a", {true, 10.0}) == "u1/5");
  runs.end();
  CHECK((identified == 1 && read == 1));
  // Nothing says it changed: not asked again.
  runs.begin(1, true, {});
  CHECK(get("a", {true, 11.0}) == "u1/5");
  runs.end();
  CHECK((identified == 1 && read == 1));
  // Marked (started or undefined), the same run: checked, kept.
  runs.begin(1, true, {"a"});
  CHECK(get("a", {true, 12.0}) == "u1/5");
  runs.end();
  CHECK((identified == 2 && read == 1));
  // CPU time went back: restarted between two cycles.
  current = {"u1", 6};
  runs.begin(1, true, {});
  CHECK(get("a", {true, 0.5}) == "u1/6");
  runs.end();
  CHECK((identified == 3 && read == 2));
  // Shut off: another state, checked.
  current = {"u1", -1};
  runs.begin(1, true, {});
  CHECK(get("a", {false, std::nullopt}) == "u1/-1");
  runs.end();
  CHECK((identified == 4 && read == 3));
  // A new connection, or one without events: everything checked.
  runs.begin(2, true, {});
  get("a", {false, std::nullopt});
  runs.end();
  runs.begin(2, false, {});
  get("a", {false, std::nullopt});
  runs.end();
  CHECK((identified == 6 && read == 3));
  // Not listed in a cycle: gone.
  runs.begin(2, true, {});
  runs.end();
  CHECK(runs.size() == 0);
}

TEST_CASE("domain runs: the report's source reads a domain made again under the same name, and nothing else",
          "[nodeld][libvirt]") {
  Events events;
  LibvirtSource source(std::make_shared<LibvirtConnection>("test:///default", events.callback()));
  REQUIRE(source.collect());  // connected: events from here on
  Admin admin;
  REQUIRE(admin.conn);
  admin.start(events, "rerun1", 1, "vda");
  auto first = source.collect();
  REQUIRE(first);
  const DomainStats& d1 = find(*first, "rerun1");
  CHECK(d1.uuid == "7d8e6f4a-0000-4000-8000-000000000011");
  REQUIRE(d1.interfaces.size() == 1);
  CHECK(d1.interfaces[0].device == "vif71.0");

  // Unchanged: the next cycle asks libvirt nothing per domain.
  uint64_t reads = source.runs().reads(), checks = source.runs().checks();
  auto again = source.collect();
  REQUIRE(again);
  CHECK(source.runs().reads() == reads);
  CHECK(source.runs().checks() == checks);
  CHECK(find(*again, "rerun1").interfaces[0].device == "vif71.0");

  // Destroyed and made again between two cycles, same name and state, another uuid and interface.
  admin.destroy("rerun1");
  admin.start(events, "rerun1", 2, "vdb");
  auto after = source.collect();
  REQUIRE(after);
  const DomainStats& d2 = find(*after, "rerun1");
  CHECK(d2.state == "running");
  CHECK(d2.uuid == "7d8e6f4a-0000-4000-8000-000000000012");
  REQUIRE(d2.interfaces.size() == 1);
  CHECK(d2.interfaces[0].device == "vif72.0");
  CHECK(d2.interfaces[0].addresses == std::vector<std::string>{"10.10.0.72"});
  admin.destroy("rerun1");
}

TEST_CASE("domain runs: the throttle reads the disks of a domain made again under the same name", "[nodeld][throttle]") {
  Events events;
  LibvirtBlockTune tune(std::make_shared<LibvirtConnection>("test:///default", events.callback()));
  REQUIRE(tune.block_load());  // connected: events from here on
  Admin admin;
  REQUIRE(admin.conn);
  admin.start(events, "rerun2", 1, "vda");
  auto first = tune.block_load();
  REQUIRE(first);
  const GuestBlockLoad& g1 = find(*first, "rerun2");
  CHECK(g1.first_sight);
  REQUIRE(g1.disks.size() == 1);
  CHECK(g1.disks[0].target == "vda");
  auto again = tune.block_load();
  REQUIRE(again);
  CHECK(!find(*again, "rerun2").first_sight);

  admin.destroy("rerun2");
  admin.start(events, "rerun2", 2, "vdb");
  auto after = tune.block_load();
  REQUIRE(after);
  const GuestBlockLoad& g2 = find(*after, "rerun2");
  CHECK(g2.first_sight);
  CHECK(g2.uuid == "7d8e6f4a-0000-4000-8000-000000000022");
  REQUIRE(g2.disks.size() == 1);
  CHECK(g2.disks[0].target == "vdb");
  admin.destroy("rerun2");
}
