// The job's exit status as the agent records it in the repository: `key=value` lines, one
// record per job, written once (see docs/status-file.md for every key). The same type is
// parsed back by tests, the benchmark and any scheduler that collects results.
#pragma once

#include "error.hpp"
#include "utc_time.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace smartvm {

enum class JobState { succeeded, failed, signaled, timed_out, setup_failed, cancelled };

const char* to_string(JobState s);
std::optional<JobState> job_state_from_string(std::string_view s);

struct StatusRecord {
  using Clock = std::chrono::system_clock;

  JobState state = JobState::setup_failed;
  std::optional<int> exit_code;  // absent when no job ran; 128+N when ended by signal N
  std::string signal;            // "SIGSEGV" when the job's main process died of a signal
  bool core_dumped = false;
  std::optional<Clock::time_point> started_at;
  std::optional<Clock::time_point> finished_at;
  double wall_seconds = 0;
  double user_cpu_seconds = 0;
  double system_cpu_seconds = 0;
  uint64_t max_rss_kib = 0;
  std::string error;  // one line: the step that failed and why (setup_failed, cancelled, ...)
  std::string agent_version;

  // Beyond the DESIGN.md minimum (documented in docs/status-file.md):
  std::optional<uint64_t> memory_peak_kib;  // the job cgroup's memory.peak, when it has one
  uint64_t oom_kills = 0;                   // processes of the job killed by the OOM killer
  uint64_t leftover_processes = 0;          // processes still running after the job ended, killed
  bool stdout_truncated = false;            // output_limit reached, the rest discarded
  bool stderr_truncated = false;
  std::string output_error;                 // a write error on stdout/stderr (ENOSPC, ...)
  std::string containment;                  // "cgroup" or "subreaper": how the job was contained
  std::string record_tampered;              // what stood in the reserved record's place, when
                                            // somebody replaced it while the job ran
};

std::string format_status(const StatusRecord& r);
inline std::ostream& operator<<(std::ostream& os, const StatusRecord& r) { return os << format_status(r); }
Result<StatusRecord> parse_status(std::string_view text);

}  // namespace smartvm
