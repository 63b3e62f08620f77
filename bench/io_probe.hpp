// The host side of the I/O storm benchmarks: a probe of the host's own response time (every
// 20 ms a 4 KiB write + fdatasync and a file create + unlink, as a daemon logging or a shell
// working would do), and the table both benchmarks print.
#pragma once

#include <string>
#include <vector>

struct Probe {
  double p50_ms = 0, p99_ms = 0;
  size_t samples = 0;
};

// Probes for `seconds` in `dir` (on the disk under test).
Probe probe(const std::string& dir, int seconds);

struct Phase {
  std::string name;
  Probe probe;
  double guest_mib_s = -1;  // -1: no guest
};

// Writes `text` to a (cgroup) file; exits with a message when it cannot.
void write_text(const std::string& file, const std::string& text);

// The table: p99 against the first phase (idle), guest throughput against `unthrottled`.
void print_table(const std::vector<Phase>& phases, double unthrottled);
