// What a job came to, decided from what the host saw: the status record the agent sent over
// the status channel (if any), and whether the host stopped the domain itself (the wall time
// ran out, smartvm-run was signalled) and how. The host's own record stands in where the guest
// could not write one; a domain that ended without a record is a failure, said so. Pure.
#pragma once

#include "status_record.hpp"

#include <chrono>
#include <string>

namespace smartvm::launcher {

// Exit statuses (timeout(1) and env(1) conventions; smartvm-run(8)).
inline constexpr int kExitTimedOut = 124;
inline constexpr int kExitSetupFailed = 125;
inline constexpr int kExitCannotStart = 126;
inline constexpr int kExitNoSuchService = 127;

struct HostView {
  std::string channel_text;  // what came over org.smartvm.status.0 ("" if nothing)
  // slurm_time_limit: a signal (SIGTERM) that Slurm sent because the job's time limit ended it.
  enum class Stop { none, wall_time, signal, slurm_time_limit } stop = Stop::none;
  int signal = 0;                       // for Stop::signal and slurm_time_limit: the signal smartvm-run got
  std::chrono::seconds wall_time{0};    // for Stop::wall_time: the limit
  bool destroyed = false;               // the guest did not stop within the grace: destroyed
  std::string ended;                    // how the domain ended ("the guest shut down", ...)
  StatusRecord::Clock::time_point started_at, finished_at;  // the domain's run
};

struct JobOutcome {
  StatusRecord record;
  int exit_status = 0;
  bool from_guest = false;  // the record is the agent's (perhaps with the host's state)
};

JobOutcome decide_outcome(const HostView& view);

// A record's exit status: the job's exit code (128+N for signal N), 124 timed out, 125 setup
// failed or no exit code, 143 (SIGTERM) cancelled.
int exit_status_for(const StatusRecord& r);

}  // namespace smartvm::launcher
