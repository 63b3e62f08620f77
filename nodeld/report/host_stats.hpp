// The host's own view of its load, read from /proc (the Dom0's view on Xen): CPU use from
// /proc/stat deltas, memory, load averages, pressure stall information, uptime, boot id.
// The parsers are pure; HostStatsSource reads a /proc tree whose root is a parameter, so tests
// use fake trees.
#pragma once

#include "error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smartvm::nodeld {

// The "cpu" line of /proc/stat, in clock ticks.
struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};

struct Pressure {
  double some_avg10 = 0;  // percent of time some task stalled, over 10 s
  double full_avg10 = 0;  // percent of time all tasks stalled (not for cpu on older kernels)
  uint64_t some_total_us = 0;  // stall time since boot: its deltas give the pressure of any period
};

// The share of time some task stalled between two readings of the same PSI file, in percent
// (the totals' difference over the time between): the pressure of exactly that period, where
// the kernel's averages cover 10 s. The first reading gives the kernel's 10 s average.
struct StallMeter {
  std::optional<uint64_t> total_us;
  std::chrono::steady_clock::time_point at{};
  double update(const Pressure& p, std::chrono::steady_clock::time_point now);
};

struct HostStats {
  unsigned cpu_cores = 0;
  std::optional<double> cpu_use_percent;  // needs two readings
  uint64_t memory_total_kib = 0;
  uint64_t memory_available_kib = 0;
  double load[3] = {0, 0, 0};
  std::optional<Pressure> pressure_cpu, pressure_io, pressure_memory;  // none: no PSI (kernel < 4.20 or psi=0)
  double uptime_seconds = 0;
  std::string boot_id;
};

// Parsers of the files' text; each error names what is wrong.
Result<CpuTimes> parse_proc_stat_cpu(std::string_view text, unsigned* cores);
Result<void> parse_meminfo(std::string_view text, HostStats& out);
Result<void> parse_loadavg(std::string_view text, HostStats& out);
Result<Pressure> parse_pressure(std::string_view text);
// A PSI file read and parsed; errors name the file (a missing file keeps its errno code).
Result<Pressure> read_pressure(const std::string& file);
// Percent busy between two readings; none when no tick passed.
std::optional<double> cpu_use_between(const CpuTimes& before, const CpuTimes& after);

class HostStatsSource {
 public:
  explicit HostStatsSource(std::string proc_root) : proc_root_(std::move(proc_root)) {}
  // Reads every file; the first reading has no CPU use (there is no earlier one to compare to).
  Result<HostStats> collect();

 private:
  std::string proc_root_;
  std::optional<CpuTimes> previous_;
};

}  // namespace smartvm::nodeld
