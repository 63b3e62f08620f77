#include "libvirt_source.hpp"

#include "domain_devices.hpp"
#include "utc_time.hpp"

#include <libvirt/libvirt.h>

#include <algorithm>
#include <chrono>

namespace smartvm::nodeld {

LibvirtSource::LibvirtSource(std::string uri, EventCallback on_event, LibvirtConnection::SayFn say)
    : connection_(std::make_shared<LibvirtConnection>(std::move(uri), std::move(on_event), std::move(say))),
      marks_(connection_->watch_runs()) {}

Result<HypervisorStats> LibvirtSource::collect() {
  auto held = connection_->lock();
  auto conn = connection_->open(held);
  if (!conn) return conn.error();
  auto stats = collect_open(held, *conn);
  // A call that failed because libvirtd went away: drop the connection now, so that the next
  // cycle reconnects instead of failing the same way.
  if (!stats) connection_->close_if_dead(held);
  return stats;
}

Result<HypervisorStats> LibvirtSource::collect_open(const LibvirtConnection::Lock& held, virConnectPtr conn) {
  const std::string& uri = connection_->uri();
  HypervisorStats h;
  virNodeInfo info{};
  if (virNodeGetInfo(conn, &info) < 0) return make_error(libvirt_error("virNodeGetInfo on " + uri));
  h.cpu_cores = info.cpus;
  h.memory_kib = info.memory;
  if (unsigned long long free_bytes = virNodeGetFreeMemory(conn); free_bytes > 0) h.free_memory_kib = free_bytes / 1024;

  const unsigned groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                          VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
  virDomainStatsRecordPtr* records = nullptr;
  int n = connection_->all_domain_stats(held, groups, 0, &records);
  if (n < 0) return make_error(libvirt_error("virConnectGetAllDomainStats on " + uri));
  runs_.begin(connection_->generation(held), connection_->has_events(held), marks_->take());
  h.domains.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    virDomainPtr dom = records[i]->dom;
    DomainRecord r = decode_stats_record(*records[i]);
    DomainStats d;
    d.name = std::move(r.name);
    d.state = std::move(r.state);
    d.vcpus = r.vcpus.value_or(0);
    d.memory_kib = r.memory_kib.value_or(0);
    d.cpu_seconds = r.cpu_seconds;
    d.block = std::move(r.block);
    d.net = std::move(r.net);
    // Inactive domains, and drivers without those groups: the configured size from
    // virDomainGetInfo (no I/O on the host; one round trip to libvirtd), asked only when what
    // it gives is used (an inactive domain's CPU time is not).
    if (!r.vcpus || !r.memory_kib || (!d.cpu_seconds && d.state != "shutoff")) {
      virDomainInfo di{};
      if (virDomainGetInfo(dom, &di) == 0) {
        if (!r.vcpus) d.vcpus = di.nrVirtCpu;
        if (!r.memory_kib) d.memory_kib = di.memory;
        if (!d.cpu_seconds && d.state != "shutoff") d.cpu_seconds = double(di.cpuTime) / 1e9;
      }
    }
    bool active = active_state(r.state_code);
    auto& run = runs_.get(
        d.name, run_signs(r), [&] { return domain_identity(dom); },
        [&](const DomainIdentity&) {
          XmlFacts found;
          if (!active) return found;
          if (char* xml = virDomainGetXMLDesc(dom, 0)) {
            auto parsed = domain_facts_from_xml(xml);
            free(xml);
            if (parsed) {
              found.interfaces = std::move(parsed->interfaces);
              // libvirt does not say when a domain started: the first time nodeld saw this run.
              if (parsed->job)
                found.job = DomainJob{std::move(*parsed->job), format_utc(std::chrono::system_clock::now()),
                                      std::move(parsed->file_sources)};
            } else {
              connection_->say(log::Level::warning, "domain " + d.name + ": " + parsed.error().message);
            }
          }
          return found;
        });
    d.uuid = run.identity.uuid;
    if (active) {
      d.interfaces = run.facts.interfaces;
      d.job = run.facts.job;
    }
    h.domains.push_back(std::move(d));
  }
  virDomainStatsRecordListFree(records);
  runs_.end();
  std::sort(h.domains.begin(), h.domains.end(), [](const DomainStats& a, const DomainStats& b) { return a.name < b.name; });
  return h;
}

}  // namespace smartvm::nodeld
