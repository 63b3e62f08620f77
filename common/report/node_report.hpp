// A node's report: what nodeld sends (POST /v1/reports) and the frontend keeps. JSON, schema 1
// (docs/report.md). The decoder checks what the frontend relies on and names the field that is
// wrong; everything else in the report is kept as sent.
#pragma once

#include "error.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smartvm {

struct DomainSummary {
  std::string name;
  std::string state;  // running, paused, blocked, shutoff, crashed, ...
  uint64_t vcpus = 0;
  uint64_t memory_kib = 0;
};

struct NodeReport {
  std::string node;
  std::string time;  // UTC, 2026-11-22T02:00:00Z
  uint64_t seq = 0;
  std::string boot_id;  // host.boot_id: which boot of the node made it ("" when not sent)
  uint64_t interval_seconds = 10;
  uint64_t capacity_cores = 0;       // from the hypervisor (virNodeGetInfo), not /proc
  uint64_t capacity_memory_kib = 0;
  std::vector<DomainSummary> domains;
  bool hypervisor_stale = false;  // "stale" names libvirt: nothing is free, as far as placement knows
  bool fit_for_jobs = true;       // false: guests are not routed or the repository does not answer
  boost::json::value raw;  // the whole report as sent

  // What running domains do not hold: the placement view.
  uint64_t free_cores() const;
  uint64_t free_memory_kib() const;
};

// Every number the frontend reads is at most 2^53: more than any node has, exact in JSON's
// doubles, and within SQLite's signed 64 bits.
inline constexpr uint64_t kMaxReportNumber = uint64_t(1) << 53;

// At most this many bytes of JSON are accepted (a node with 1000 domains stays well below).
inline constexpr size_t kMaxReportBytes = 4 << 20;

Result<NodeReport> decode_report(std::string_view json);

// A node name: 1 to 253 of [A-Za-z0-9._-], as host names are.
bool valid_node_name(std::string_view name);

}  // namespace smartvm
