// A snapshot with every part nodeld can report filled in (host, hypervisor with a running job
// domain held at its adaptive floor and a shut-off one, RDMA, routing, the repository probe,
// the throttle's target, jobs cleaned, a stale source): what the report and /metrics tests
// render, so that every family nodeld can export is in their output.
#pragma once

#include "snapshot.hpp"

namespace smartvm::test {

inline nodeld::Snapshot full_snapshot() {
  using namespace smartvm::nodeld;
  Snapshot s;
  s.node = "node042";
  s.time = "2026-11-22T04:00:00Z";
  s.seq = 7;
  s.interval_seconds = 10;
  HostStats h;
  h.cpu_cores = 4;
  h.cpu_use_percent = 12.345;
  h.memory_total_kib = 8000000;
  h.memory_available_kib = 6000000;
  h.load[0] = 0.5;
  h.pressure_io = Pressure{12.5, 3.25};
  h.uptime_seconds = 100.9;
  h.boot_id = "b";
  s.host = h;
  HypervisorStats hv;
  hv.cpu_cores = 32;
  hv.memory_kib = 64 << 20;
  hv.free_memory_kib = 10 << 20;
  DomainStats run{"job\"1", "u-1", "running", 4, 4 << 20, 12.5, {{"vda", 1, 2, 3, 4}}, {{"vnet0", 5, 6, 7, 8}}, IoLimits{1 << 20, 0, 0, 0}, {{"vif1.0", {"10.10.0.5"}}}, DomainIoPressure{37.5, 2'500'000}, std::nullopt, std::nullopt};
  run.job = DomainJob{JobMetadata{"blast", "j1", "alice", 4242, "/run/smartvm/jobs/j1"}, "2026-11-22T03:59:00Z", {"/run/smartvm/jobs/j1/disk.qcow2"}};
  run.throttle_state = DomainThrottleState{"adaptive: host io pressure 12.5% over target 10.0%; at the floor", true};
  DomainStats off{"job2", "u-2", "shutoff", 8, 8 << 20, std::nullopt, {}, {}, std::nullopt, {}, std::nullopt, std::nullopt, std::nullopt};
  hv.domains = {run, off};
  s.hypervisor = hv;
  RdmaPort p;
  p.device = "mlx5_0";
  p.port = 1;
  p.state = "ACTIVE";
  p.phys_state = "LinkUp";
  p.rate_gbps = 100;
  p.mtu = 4096;
  p.link_layer = "InfiniBand";
  p.ipoib_interface = "ib0";
  p.ipoib_mode = "connected";
  s.rdma = std::vector<RdmaPort>{p};
  s.stale["rdma"] = Staleness{30, "ibv_query_port: Input/output error"};
  s.jobs_cleaned = 3;
  s.io_pressure_target = 10;
  s.routing = RoutingStatus{};
  s.repository = ProbeResult{"10.10.0.1:2049", true, 0.5, ""};
  return s;
}


}  // namespace smartvm::test
