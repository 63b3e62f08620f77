#include "job_outcome.hpp"

#include <sys/wait.h>

#include <cstring>

namespace smartvm::agent {

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

void record_end(StatusRecord& record, const JobEnd& end) {
  int st = end.status;
  if (WIFEXITED(st)) {
    record.exit_code = WEXITSTATUS(st);
    record.state = WEXITSTATUS(st) == 0 ? JobState::succeeded : JobState::failed;
  } else if (WIFSIGNALED(st)) {
    record.exit_code = 128 + WTERMSIG(st);
    record.signal = signal_name(WTERMSIG(st));
    record.core_dumped = WCOREDUMP(st);
    record.state = JobState::signaled;
  }
  const JobUsage& u = end.usage;
  record.user_cpu_seconds = u.user_seconds;
  record.system_cpu_seconds = u.system_seconds;
  record.max_rss_kib = u.max_rss_kib;
  record.memory_peak_kib = u.memory_peak_kib;
  record.oom_kills = u.oom_kills;
  if (u.oom_kills > 0) record.error = "the OOM killer killed " + std::to_string(u.oom_kills) + " process(es) of the job";
  if (end.timed_out) {
    record.state = JobState::timed_out;
    record.error = "exceeded the timeout of " + std::to_string(end.timeout.count()) + " s";
  } else if (end.cancelled_by) {
    record.state = JobState::cancelled;
    record.error = "the agent received " + signal_name(end.cancelled_by) + " (the VM is being shut down)";
  }
}

}  // namespace smartvm::agent
