#include "run_outcome.hpp"

#include <signal.h>
#include <string.h>

namespace smartvm::launcher {
namespace {

std::string how_stopped(const HostView& v) {
  return v.destroyed ? "it did not power off within the grace and was destroyed" : "it powered off";
}

std::string host_reason(const HostView& v) {
  if (v.stop == HostView::Stop::wall_time)
    return "the wall time of " + std::to_string(v.wall_time.count()) + " s ran out: the host shut the domain down and " +
           how_stopped(v);
  std::string name = sigabbrev_np(v.signal) ? std::string("SIG") + sigabbrev_np(v.signal) : std::to_string(v.signal);
  if (v.stop == HostView::Stop::slurm_time_limit)
    return "the Slurm job's time limit ran out (smartvm-run got " + name + "): the host shut the domain down and " +
           how_stopped(v);
  return "smartvm-run got " + name + ": the host shut the domain down and " + how_stopped(v);
}

}  // namespace

int exit_status_for(const StatusRecord& r) {
  switch (r.state) {
    case JobState::succeeded:
    case JobState::failed:
    case JobState::signaled: return r.exit_code ? *r.exit_code & 0xff : kExitSetupFailed;
    case JobState::timed_out: return kExitTimedOut;
    case JobState::setup_failed: return kExitSetupFailed;
    case JobState::cancelled: return 128 + SIGTERM;
  }
  return kExitSetupFailed;
}

JobOutcome decide_outcome(const HostView& v) {
  JobOutcome out;
  std::string parse_problem;
  if (!v.channel_text.empty()) {
    if (auto parsed = parse_status(v.channel_text)) {
      out.record = *parsed;
      out.from_guest = true;
    } else {
      parse_problem = " (what came over the status channel is not a record: " + parsed.error().message + ")";
    }
  }
  StatusRecord& r = out.record;
  bool host_stopped = v.stop != HostView::Stop::none;
  // The job finished before the host's stop took effect: its own result stands.
  bool job_finished = out.from_guest && r.state != JobState::cancelled;
  if (host_stopped && !job_finished) {
    if (out.from_guest) {
      r.error = host_reason(v) + " (the agent recorded: cancelled" + (r.error.empty() ? "" : ": " + r.error) + ")";
    } else {
      r = StatusRecord{};
      r.error = host_reason(v) + "; no status record came from the guest" + parse_problem;
      r.started_at = v.started_at;
      r.finished_at = v.finished_at;
      r.wall_seconds = std::chrono::duration<double>(v.finished_at - v.started_at).count();
    }
    // The host's own limit and Slurm's are both a timeout (timeout(1)'s 124); a signal for any
    // other reason is a cancellation.
    bool timed_out = v.stop == HostView::Stop::wall_time || v.stop == HostView::Stop::slurm_time_limit;
    r.state = timed_out ? JobState::timed_out : JobState::cancelled;
    out.exit_status = timed_out ? kExitTimedOut : 128 + v.signal;
    return out;
  }
  if (!out.from_guest) {
    r = StatusRecord{};
    r.state = JobState::failed;
    r.error = "the domain ended without a status record (" + (v.ended.empty() ? "it stopped" : v.ended) +
              " before the agent sent one)" + parse_problem;
    r.started_at = v.started_at;
    r.finished_at = v.finished_at;
    r.wall_seconds = std::chrono::duration<double>(v.finished_at - v.started_at).count();
    out.exit_status = kExitSetupFailed;
    return out;
  }
  out.exit_status = exit_status_for(r);
  return out;
}

}  // namespace smartvm::launcher
