// What one collection cycle found, source by source: the data behind both the JSON report
// (report_json.hpp) and the Prometheus text (metrics_text.hpp).
#pragma once

#include "domain_devices.hpp"
#include "domain_stats.hpp"
#include "host_stats.hpp"
#include "io_limits.hpp"
#include "routing_status.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

// A guest's own I/O pressure, from its cgroup's io.pressure ([throttle] domain_pressure).
struct DomainIoPressure {
  double percent = 0;          // "some" since the throttle's previous round
  uint64_t some_total_us = 0;  // the kernel's counter, for /metrics
};

// A job domain's mark (smartvm-run's metadata), when nodeld first saw that run of the
// domain, and the host files behind its disks (where its job directory is).
struct DomainJob {
  JobMetadata meta;
  std::string since;  // UTC, as format_utc writes it
  std::vector<std::string> file_sources;
};

// Why nodeld's throttle holds a guest where it is (the throttle publishes it each tick).
struct DomainThrottleState {
  std::string reason;              // "static policy", "adaptive: host io pressure 23.0% over target 10.0%", ...
  std::optional<bool> at_floor;    // adaptive mode only: capped, every cap at its floor
};

struct DomainStats {
  std::string name;
  std::string uuid;
  std::string state;  // running, paused, blocked, shutoff, crashed, pmsuspended, shutdown, nostate
  unsigned vcpus = 0;
  uint64_t memory_kib = 0;
  std::optional<double> cpu_seconds;
  std::vector<BlockStats> block;
  std::vector<NetStats> net;
  std::optional<IoLimits> throttle;  // the per-disk limits nodeld applied (none: nodeld set none)
  std::vector<GuestInterface> interfaces;  // from the domain XML, for the guest router
  std::optional<DomainIoPressure> io_pressure;
  std::optional<DomainJob> job;  // none: not a smartvm-run job
  std::optional<DomainThrottleState> throttle_state;  // none: the throttle does not handle it
};

struct HypervisorStats {
  unsigned cpu_cores = 0;     // virNodeGetInfo
  uint64_t memory_kib = 0;    // virNodeGetInfo
  std::optional<uint64_t> free_memory_kib;  // virNodeGetFreeMemory
  std::vector<DomainStats> domains;         // by name
};

struct RdmaPort {
  std::string device;  // mlx5_0
  unsigned port = 1;
  std::string state;       // ACTIVE, DOWN, INIT, ARMED, ...
  std::string phys_state;  // LinkUp, Polling, Disabled, ...
  double rate_gbps = 0;
  unsigned mtu = 0;         // active MTU in bytes
  std::string link_layer;   // InfiniBand, Ethernet
  uint64_t port_guid = 0;   // host order
  std::string ipoib_interface;  // "" when no IPoIB interface carries this port's GUID
  std::string ipoib_mode;       // datagram, connected
  unsigned ipoib_mtu = 0;
};

// A source's part that is not from this cycle.
struct Staleness {
  int64_t age_seconds = -1;  // since its last good answer; -1: never answered
  std::string error;
};

struct Snapshot {
  std::string node;
  std::string time;  // UTC, 2026-11-22T04:00:00Z
  uint64_t seq = 0;
  uint64_t interval_seconds = 10;
  std::optional<HostStats> host;
  std::optional<HypervisorStats> hypervisor;
  std::optional<std::vector<RdmaPort>> rdma;
  std::map<std::string, Staleness> stale;  // by source name: host, libvirt, rdma
  // The guest router's newest reconcile (none when routing is off); its error when it failed.
  std::optional<RoutingStatus> routing;
  std::string routing_error;
  std::optional<ProbeResult> repository;  // none when no repository_probe is configured
  // Jobs nodeld cleaned up since it started (orphaned domains destroyed, leftover directories
  // removed); none when it does not clean up (--once, [jobs] cleanup = false).
  std::optional<uint64_t> jobs_cleaned;
  // The host I/O pressure (percent) the adaptive throttle keeps under; none unless adaptive.
  std::optional<double> io_pressure_target;
};

}  // namespace smartvm::nodeld
