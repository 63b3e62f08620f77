#include "report_json.hpp"

#include "json_text.hpp"

#include <cmath>

namespace smartvm::nodeld {

namespace json = boost::json;

namespace {

// Percentages and seconds with two decimals are all a reader needs, and keep the JSON short.
double rounded(double v) { return std::round(v * 100.0) / 100.0; }

json::object host_json(const HostStats& h) {
  json::object o;
  o["cpu_cores"] = h.cpu_cores;
  if (h.cpu_use_percent) o["cpu_use_percent"] = rounded(*h.cpu_use_percent);
  o["memory_total_kib"] = h.memory_total_kib;
  o["memory_free_kib"] = h.memory_available_kib;
  o["load"] = json::array{rounded(h.load[0]), rounded(h.load[1]), rounded(h.load[2])};
  json::object pressure;
  auto psi = [&](const char* name, const std::optional<Pressure>& p) {
    if (p) pressure[name] = rounded(p->some_avg10);
  };
  psi("cpu", h.pressure_cpu);
  psi("io", h.pressure_io);
  psi("memory", h.pressure_memory);
  if (!pressure.empty()) o["pressure"] = std::move(pressure);
  o["uptime_seconds"] = static_cast<uint64_t>(h.uptime_seconds);
  o["boot_id"] = h.boot_id;
  return o;
}

json::object domain_json(const DomainStats& d) {
  json::object o;
  o["name"] = d.name;
  if (!d.uuid.empty()) o["uuid"] = d.uuid;
  o["state"] = d.state;
  o["vcpus"] = d.vcpus;
  o["memory_kib"] = d.memory_kib;
  if (d.cpu_seconds) o["cpu_seconds"] = rounded(*d.cpu_seconds);
  if (!d.block.empty()) {
    json::array a;
    for (const BlockStats& b : d.block)
      a.push_back(json::object{{"name", b.name}, {"rd_bytes", b.rd_bytes}, {"wr_bytes", b.wr_bytes},
                               {"rd_reqs", b.rd_reqs}, {"wr_reqs", b.wr_reqs}});
    o["block"] = std::move(a);
  }
  if (!d.net.empty()) {
    json::array a;
    for (const NetStats& n : d.net)
      a.push_back(json::object{{"name", n.name}, {"rx_bytes", n.rx_bytes}, {"tx_bytes", n.tx_bytes},
                               {"rx_pkts", n.rx_pkts}, {"tx_pkts", n.tx_pkts}});
    o["net"] = std::move(a);
  }
  if (!d.interfaces.empty()) {
    json::array a;
    for (const GuestInterface& g : d.interfaces) {
      json::array addresses;
      for (const std::string& ad : g.addresses) addresses.push_back(json::string(ad));
      a.push_back(json::object{{"device", g.device}, {"addresses", std::move(addresses)}});
    }
    o["interfaces"] = std::move(a);
  }
  if (d.throttle)
    o["throttle"] = json::object{{"read_bytes_sec", d.throttle->read_bytes_sec},
                                 {"write_bytes_sec", d.throttle->write_bytes_sec},
                                 {"read_iops_sec", d.throttle->read_iops_sec},
                                 {"write_iops_sec", d.throttle->write_iops_sec}};
  if (d.throttle_state) o["throttle_reason"] = d.throttle_state->reason;
  if (d.io_pressure) o["io_pressure"] = d.io_pressure->percent;
  return o;
}

json::object job_json(const DomainStats& d) {
  return json::object{{"job_id", d.job->meta.job_id}, {"service", d.job->meta.service}, {"owner", d.job->meta.owner},
                      {"state", d.state},           {"since", d.job->since},            {"cores", d.vcpus},
                      {"memory_kib", d.memory_kib}, {"domain", d.name}};
}

json::object rdma_json(const RdmaPort& p) {
  json::object o{{"device", p.device}, {"port", p.port},           {"state", p.state},
                 {"phys_state", p.phys_state}, {"rate_gbps", p.rate_gbps}, {"mtu", p.mtu},
                 {"link_layer", p.link_layer}};
  if (!p.ipoib_interface.empty()) {
    o["ipoib_interface"] = p.ipoib_interface;
    o["ipoib_mode"] = p.ipoib_mode;
    o["ipoib_mtu"] = p.ipoib_mtu;
  }
  return o;
}

}  // namespace

json::object report_json(const Snapshot& s) {
  json::object r;
  r["schema"] = 1;
  r["node"] = s.node;
  r["time"] = s.time;
  r["seq"] = s.seq;
  r["interval_seconds"] = s.interval_seconds;
  // The hypervisor's capacity; until libvirt first answers, the host's own (and "stale" says
  // so, which keeps the node out of placement at the frontend).
  json::object capacity;
  if (s.hypervisor) {
    capacity["cpu_cores"] = s.hypervisor->cpu_cores;
    capacity["memory_kib"] = s.hypervisor->memory_kib;
    if (s.hypervisor->free_memory_kib) capacity["free_memory_kib"] = *s.hypervisor->free_memory_kib;
  } else {
    capacity["cpu_cores"] = s.host ? s.host->cpu_cores : 0;
    capacity["memory_kib"] = s.host ? s.host->memory_total_kib : 0;
  }
  r["capacity"] = std::move(capacity);
  json::array domains;
  if (s.hypervisor)
    for (const DomainStats& d : s.hypervisor->domains) domains.push_back(domain_json(d));
  r["domains"] = std::move(domains);
  // The job domains again, as jobs (the frontend's node page lists them): always present, so
  // that "no jobs" and "an older nodeld" differ.
  json::array jobs;
  if (s.hypervisor)
    for (const DomainStats& d : s.hypervisor->domains)
      if (d.job) jobs.push_back(job_json(d));
  r["jobs"] = std::move(jobs);
  if (s.host) r["host"] = host_json(*s.host);
  json::array rdma;
  if (s.rdma)
    for (const RdmaPort& p : *s.rdma) rdma.push_back(rdma_json(p));
  r["rdma_ports"] = std::move(rdma);
  if (s.routing || !s.routing_error.empty()) {
    json::object ipoib;
    if (s.routing && !s.routing->ipoib_present) {
      ipoib["interface"] = s.routing->ipoib_interface;
    } else if (s.routing) {
      const RoutingStatus& r = *s.routing;
      ipoib["interface"] = r.ipoib_interface;
      ipoib["infiniband"] = r.ipoib_is_infiniband;
      if (!r.ipoib_mode.empty()) ipoib["mode"] = r.ipoib_mode;
      ipoib["address"] = r.ipoib_address;
      ipoib["mtu"] = r.ipoib_mtu;
      json::array guests;
      for (const std::string& g : r.guest_interfaces) guests.push_back(json::string(g));
      ipoib["guest_interfaces"] = std::move(guests);
      ipoib["routes"] = r.routes;
      json::array warnings;
      for (const std::string& w : r.warnings) warnings.push_back(json::string(w));
      if (!warnings.empty()) ipoib["warnings"] = std::move(warnings);
    }
    // absent: the host has no such interface and no guest is configured to be routed.
    ipoib["routing"] = !s.routing_error.empty() ? "failed" : s.routing && !s.routing->ipoib_present ? "absent" : "ok";
    if (!s.routing_error.empty()) ipoib["error"] = s.routing_error;
    r["ipoib"] = std::move(ipoib);
  }
  if (s.repository) {
    json::object repo{{"probe", s.repository->target}, {"reachable", s.repository->reachable},
                      {"connect_ms", rounded(s.repository->connect_ms)}};
    if (!s.repository->error.empty()) repo["error"] = s.repository->error;
    r["repository"] = std::move(repo);
  }
  // Whether jobs can run here: guests are routed (when routing is on) and the repository
  // answers (when a probe is configured). The frontend places nothing on an unfit node.
  r["fit_for_jobs"] = s.routing_error.empty() && (!s.repository || s.repository->reachable);
  if (!s.stale.empty()) {
    json::object stale;
    for (const auto& [source, st] : s.stale) {
      json::object o{{"error", st.error}};
      if (st.age_seconds >= 0) o["age_seconds"] = st.age_seconds;
      stale[source] = std::move(o);
    }
    r["stale"] = std::move(stale);
  }
  return r;
}

// As people write numbers (48.74, not 4.874E1): the report is read by people too.
std::string report_text(const Snapshot& s) { return json_text(report_json(s)); }

}  // namespace smartvm::nodeld
