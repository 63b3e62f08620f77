// One point of a node's history: what the status page draws and /v1/nodes/NAME/history
// answers. Taken from the host section of a stored report; a value the report lacks is NaN
// (stored as NULL, drawn as a gap, answered as null).
#pragma once

#include "node_report.hpp"

#include <cstdint>

namespace smartvm::frontend {

struct HostSample {
  int64_t time = 0;  // unix seconds, when the report arrived
  double cpu_use_percent;
  double load1;
  double io_pressure;  // PSI io "some" avg10, percent
  double free_memory_kib;
};

HostSample sample_of(const NodeReport& r, int64_t arrived);

}  // namespace smartvm::frontend
