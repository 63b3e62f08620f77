#include "metrics_text.hpp"

#include <charconv>
#include <initializer_list>
#include <map>
#include <type_traits>
#include <utility>

namespace smartvm::nodeld {

namespace {

using Labels = std::initializer_list<std::pair<const char*, std::string>>;

class Writer {
 public:
  // Each family's HELP and TYPE once, before its samples (the format requires them together).
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  template <typename V>
  void sample(const char* name, Labels labels, V value) {
    out_ += name;
    if (labels.size()) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        out_ += escape_label_value(v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    char buf[32];
    std::to_chars_result r;
    // Whole numbers as integers ("12500000000", not "1.25e+10"): easier to read, same value.
    if constexpr (std::is_floating_point_v<V>) {
      if (value == double(int64_t(value)) && value > -9e15 && value < 9e15)
        r = std::to_chars(buf, buf + sizeof buf, int64_t(value));
      else
        r = std::to_chars(buf, buf + sizeof buf, value);
    } else {
      r = std::to_chars(buf, buf + sizeof buf, value);
    }
    auto [end, ec] = r;
    out_.append(buf, ec == std::errc() ? end : buf);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void host_metrics(Writer& w, const HostStats& h, const std::string& node) {
  w.family("smartvm_node_cpu_cores", "gauge", "CPUs online in the host's own view (/proc/stat).");
  w.sample("smartvm_node_cpu_cores", {{"node", node}}, h.cpu_cores);
  if (h.cpu_use_percent) {
    w.family("smartvm_node_cpu_use_ratio", "gauge", "Share of the host's CPU time busy since the last cycle.");
    w.sample("smartvm_node_cpu_use_ratio", {{"node", node}}, *h.cpu_use_percent / 100.0);
  }
  w.family("smartvm_node_memory_total_bytes", "gauge", "Host memory (MemTotal).");
  w.sample("smartvm_node_memory_total_bytes", {{"node", node}}, h.memory_total_kib * 1024);
  w.family("smartvm_node_memory_available_bytes", "gauge", "Host memory available (MemAvailable).");
  w.sample("smartvm_node_memory_available_bytes", {{"node", node}}, h.memory_available_kib * 1024);
  w.family("smartvm_node_load_average", "gauge", "Load averages over 1, 5 and 15 minutes.");
  static const char* periods[] = {"1m", "5m", "15m"};
  for (int i = 0; i < 3; ++i) w.sample("smartvm_node_load_average", {{"node", node}, {"period", periods[i]}}, h.load[i]);
  if (h.pressure_cpu || h.pressure_io || h.pressure_memory) {
    std::pair<const char*, const std::optional<Pressure>*> psi[] = {
        {"cpu", &h.pressure_cpu}, {"io", &h.pressure_io}, {"memory", &h.pressure_memory}};
    w.family("smartvm_node_pressure_some_ratio", "gauge", "PSI: share of the last 10 s some task stalled.");
    for (auto& [res, p] : psi)
      if (*p) w.sample("smartvm_node_pressure_some_ratio", {{"node", node}, {"resource", res}}, (*p)->some_avg10 / 100.0);
    w.family("smartvm_node_pressure_full_ratio", "gauge", "PSI: share of the last 10 s all tasks stalled.");
    for (auto& [res, p] : psi)
      if (*p) w.sample("smartvm_node_pressure_full_ratio", {{"node", node}, {"resource", res}}, (*p)->full_avg10 / 100.0);
  }
  w.family("smartvm_node_uptime_seconds", "gauge", "Seconds since the host booted.");
  w.sample("smartvm_node_uptime_seconds", {{"node", node}}, h.uptime_seconds);
}

// Jobs (domains smartvm-run marked): one info series per job, labelled by what identifies it
// and nothing that changes while it runs but its state; the counts by state for alerts.
void job_metrics(Writer& w, const HypervisorStats& hv, const std::string& node) {
  std::map<std::string, unsigned> by_state;
  for (const DomainStats& d : hv.domains)
    if (d.job) ++by_state[d.state];
  if (by_state.empty()) return;
  w.family("smartvm_node_jobs", "gauge", "Job domains (smartvm-run's) by state.");
  for (const auto& [state, n] : by_state) w.sample("smartvm_node_jobs", {{"node", node}, {"state", state}}, n);
  w.family("smartvm_job_info", "gauge", "1 per job domain, with its job id, service, owner, state and domain.");
  for (const DomainStats& d : hv.domains)
    if (d.job)
      w.sample("smartvm_job_info",
               {{"job_id", d.job->meta.job_id}, {"service", d.job->meta.service}, {"owner", d.job->meta.owner},
                {"state", d.state}, {"domain", d.name}},
               1);
}

void hypervisor_metrics(Writer& w, const HypervisorStats& hv, const std::string& node) {
  w.family("smartvm_node_capacity_cores", "gauge", "The hypervisor's CPUs (virNodeGetInfo).");
  w.sample("smartvm_node_capacity_cores", {{"node", node}}, hv.cpu_cores);
  w.family("smartvm_node_capacity_memory_bytes", "gauge", "The hypervisor's memory (virNodeGetInfo).");
  w.sample("smartvm_node_capacity_memory_bytes", {{"node", node}}, hv.memory_kib * 1024);
  if (hv.free_memory_kib) {
    w.family("smartvm_node_hypervisor_free_memory_bytes", "gauge", "The hypervisor's free memory (virNodeGetFreeMemory).");
    w.sample("smartvm_node_hypervisor_free_memory_bytes", {{"node", node}}, *hv.free_memory_kib * 1024);
  }
  std::map<std::string, unsigned> by_state;
  for (const DomainStats& d : hv.domains) ++by_state[d.state];
  w.family("smartvm_node_domains", "gauge", "Domains by state.");
  for (const auto& [state, n] : by_state) w.sample("smartvm_node_domains", {{"node", node}, {"state", state}}, n);
  job_metrics(w, hv, node);
  if (hv.domains.empty()) return;

  w.family("smartvm_domain_state", "gauge", "1 for the state the domain is in.");
  for (const DomainStats& d : hv.domains)
    w.sample("smartvm_domain_state", {{"domain", d.name}, {"uuid", d.uuid}, {"state", d.state}}, 1);
  w.family("smartvm_domain_vcpus", "gauge", "Virtual CPUs the domain holds.");
  for (const DomainStats& d : hv.domains) w.sample("smartvm_domain_vcpus", {{"domain", d.name}}, d.vcpus);
  w.family("smartvm_domain_memory_bytes", "gauge", "Memory the domain holds (balloon).");
  for (const DomainStats& d : hv.domains) w.sample("smartvm_domain_memory_bytes", {{"domain", d.name}}, d.memory_kib * 1024);
  w.family("smartvm_domain_cpu_seconds_total", "counter", "CPU time the domain used.");
  for (const DomainStats& d : hv.domains)
    if (d.cpu_seconds) w.sample("smartvm_domain_cpu_seconds_total", {{"domain", d.name}}, *d.cpu_seconds);

  struct BlockCounter {
    const char* name;
    const char* help;
    uint64_t BlockStats::*field;
  } block[] = {{"smartvm_domain_block_read_bytes_total", "Bytes read from the disk.", &BlockStats::rd_bytes},
               {"smartvm_domain_block_write_bytes_total", "Bytes written to the disk.", &BlockStats::wr_bytes},
               {"smartvm_domain_block_read_requests_total", "Read requests to the disk.", &BlockStats::rd_reqs},
               {"smartvm_domain_block_write_requests_total", "Write requests to the disk.", &BlockStats::wr_reqs}};
  for (const BlockCounter& c : block) {
    w.family(c.name, "counter", c.help);
    for (const DomainStats& d : hv.domains)
      for (const BlockStats& b : d.block) w.sample(c.name, {{"domain", d.name}, {"device", b.name}}, b.*c.field);
  }
  struct NetCounter {
    const char* name;
    const char* help;
    uint64_t NetStats::*field;
  } net[] = {{"smartvm_domain_net_receive_bytes_total", "Bytes the interface received.", &NetStats::rx_bytes},
             {"smartvm_domain_net_transmit_bytes_total", "Bytes the interface sent.", &NetStats::tx_bytes},
             {"smartvm_domain_net_receive_packets_total", "Packets the interface received.", &NetStats::rx_pkts},
             {"smartvm_domain_net_transmit_packets_total", "Packets the interface sent.", &NetStats::tx_pkts}};
  for (const NetCounter& c : net) {
    w.family(c.name, "counter", c.help);
    for (const DomainStats& d : hv.domains)
      for (const NetStats& n : d.net) w.sample(c.name, {{"domain", d.name}, {"interface", n.name}}, n.*c.field);
  }
  struct ThrottleGauge {
    const char* name;
    const char* help;
    uint64_t IoLimits::*field;
  } throttle[] = {
      {"smartvm_domain_throttle_read_bytes_per_second", "Per-disk read limit nodeld set (0: none).", &IoLimits::read_bytes_sec},
      {"smartvm_domain_throttle_write_bytes_per_second", "Per-disk write limit nodeld set (0: none).", &IoLimits::write_bytes_sec},
      {"smartvm_domain_throttle_read_iops", "Per-disk read operations limit nodeld set (0: none).", &IoLimits::read_iops_sec},
      {"smartvm_domain_throttle_write_iops", "Per-disk write operations limit nodeld set (0: none).", &IoLimits::write_iops_sec}};
  bool any_pressure = false;
  for (const DomainStats& d : hv.domains) any_pressure = any_pressure || d.io_pressure.has_value();
  if (any_pressure) {
    w.family("smartvm_domain_io_pressure_some_ratio", "gauge", "PSI of the guest's cgroup: share of the time since the throttle's previous round some of its tasks waited on I/O.");
    for (const DomainStats& d : hv.domains)
      if (d.io_pressure) w.sample("smartvm_domain_io_pressure_some_ratio", {{"domain", d.name}}, d.io_pressure->percent / 100.0);
    w.family("smartvm_domain_io_pressure_some_seconds_total", "counter", "PSI of the guest's cgroup: time some of its tasks waited on I/O.");
    for (const DomainStats& d : hv.domains)
      if (d.io_pressure)
        w.sample("smartvm_domain_io_pressure_some_seconds_total", {{"domain", d.name}}, double(d.io_pressure->some_total_us) / 1e6);
  }
  bool any_adaptive = false;
  for (const DomainStats& d : hv.domains) any_adaptive = any_adaptive || (d.throttle_state && d.throttle_state->at_floor);
  if (any_adaptive) {
    w.family("smartvm_domain_throttle_at_floor", "gauge", "1 when the adaptive throttle holds every cap of the domain at its floor.");
    for (const DomainStats& d : hv.domains)
      if (d.throttle_state && d.throttle_state->at_floor)
        w.sample("smartvm_domain_throttle_at_floor", {{"domain", d.name}}, *d.throttle_state->at_floor ? 1 : 0);
  }
  bool any_throttle = false;
  for (const DomainStats& d : hv.domains) any_throttle = any_throttle || d.throttle.has_value();
  if (!any_throttle) return;
  for (const ThrottleGauge& g : throttle) {
    w.family(g.name, "gauge", g.help);
    for (const DomainStats& d : hv.domains)
      if (d.throttle) w.sample(g.name, {{"domain", d.name}}, (*d.throttle).*g.field);
  }
}

void rdma_metrics(Writer& w, const std::vector<RdmaPort>& ports) {
  if (ports.empty()) return;
  auto port_no = [](const RdmaPort& p) { return std::to_string(p.port); };
  w.family("smartvm_rdma_port_info", "gauge", "1 per RDMA port, with its states, link layer and IPoIB interface.");
  for (const RdmaPort& p : ports)
    w.sample("smartvm_rdma_port_info",
             {{"device", p.device}, {"port", port_no(p)}, {"state", p.state}, {"phys_state", p.phys_state},
              {"link_layer", p.link_layer}, {"ipoib_interface", p.ipoib_interface}, {"ipoib_mode", p.ipoib_mode}},
             1);
  w.family("smartvm_rdma_port_up", "gauge", "1 when the port is ACTIVE.");
  for (const RdmaPort& p : ports)
    w.sample("smartvm_rdma_port_up", {{"device", p.device}, {"port", port_no(p)}}, p.state == "ACTIVE" ? 1 : 0);
  w.family("smartvm_rdma_port_rate_bytes_per_second", "gauge", "The port's signalling rate.");
  for (const RdmaPort& p : ports)
    w.sample("smartvm_rdma_port_rate_bytes_per_second", {{"device", p.device}, {"port", port_no(p)}}, p.rate_gbps * 1e9 / 8);
  w.family("smartvm_rdma_port_mtu_bytes", "gauge", "The port's active MTU.");
  for (const RdmaPort& p : ports) w.sample("smartvm_rdma_port_mtu_bytes", {{"device", p.device}, {"port", port_no(p)}}, p.mtu);
}

}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string metrics_text(const Snapshot& s) {
  Writer w;
  w.family("smartvm_node_report_sequence", "gauge", "Sequence number of the newest report.");
  w.sample("smartvm_node_report_sequence", {{"node", s.node}}, s.seq);
  // Every source, so that an alert can fire on the one that went stale.
  w.family("smartvm_node_source_up", "gauge", "1 when the source answered in the newest cycle.");
  for (const char* source : {"host", "libvirt", "rdma"})
    w.sample("smartvm_node_source_up", {{"node", s.node}, {"source", source}}, s.stale.count(source) ? 0 : 1);
  if (s.host) host_metrics(w, *s.host, s.node);
  if (s.hypervisor) hypervisor_metrics(w, *s.hypervisor, s.node);
  if (s.rdma) rdma_metrics(w, *s.rdma);
  if (s.repository) {
    w.family("smartvm_node_repository_reachable", "gauge", "1 when the repository's server accepted a TCP connection.");
    w.sample("smartvm_node_repository_reachable", {{"node", s.node}, {"probe", s.repository->target}},
             s.repository->reachable ? 1 : 0);
  }
  if (s.io_pressure_target) {
    w.family("smartvm_node_io_pressure_target_ratio", "gauge", "The host I/O pressure (PSI io some) the adaptive throttle keeps under.");
    w.sample("smartvm_node_io_pressure_target_ratio", {{"node", s.node}}, *s.io_pressure_target / 100.0);
  }
  if (s.jobs_cleaned) {
    w.family("smartvm_jobs_cleaned_total", "counter",
             "Jobs whose smartvm-run was gone that nodeld cleaned up: domains destroyed, leftover job directories removed.");
    w.sample("smartvm_jobs_cleaned_total", {{"node", s.node}}, *s.jobs_cleaned);
  }
  if (s.routing || !s.routing_error.empty()) {
    w.family("smartvm_node_routing_ok", "gauge", "1 when the newest reconcile of the guests' routes onto IPoIB worked.");
    w.sample("smartvm_node_routing_ok", {{"node", s.node}}, s.routing_error.empty() ? 1 : 0);
    if (s.routing) {
      w.family("smartvm_node_guest_routes", "gauge", "Routes to guests nodeld keeps.");
      w.sample("smartvm_node_guest_routes", {{"node", s.node}}, s.routing->routes);
    }
  }
  return w.take();
}

}  // namespace smartvm::nodeld
