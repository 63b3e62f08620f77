// Why Slurm sent smartvm-run its SIGTERM: the job's time limit or a scancel. Both send SIGCONT
// and SIGTERM (SIGKILL after KillWait) and nothing in the signal tells them apart; slurmctld
// knows, and says so in the job's Reason: when a time limit ends a job (the job's own, or a QOS
// or association limit: Slurm records TIMEOUT for each) it sets the reason to TimeLimit before
// it signals the steps; a scancel leaves the reason None (CANCELLED). Measured on Slurm 22.05
// (Debian 12), `scontrol show job -o ID` at the SIGTERM says JobState=COMPLETING in both cases,
// Reason=TimeLimit or None. The job's end time tells nothing: slurmctld sets EndTime to the
// moment it acts, on both paths, and 22.05 sets no SLURM_JOB_END_TIME. StartTime + TimeLimit
// against the clock would call a scancel that came after the limit passed but before
// slurmctld acted (it checks limits every 30 s) a timeout while Slurm records CANCELLED, and it
// would have to add suspensions and follow `scontrol update TimeLimit`; the reason does both.
#pragma once

#include "error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace smartvm::launcher {

enum class SlurmStop { time_limit, other };

// From the text of `scontrol show job -o ID` (its first line): time_limit when Slurm says the
// job's time limit ended it (Reason=TimeLimit, or JobState=TIMEOUT once it is complete).
// Pure.
SlurmStop slurm_stop_from(std::string_view show_job);

// Asks slurmctld about job `job_id` (SLURM_JOB_ID) with `scontrol show job -o`, bounded by
// `limit` (a controller that does not answer must not hold smartvm-run past KillWait). An error
// saying why when scontrol could not be run or did not answer.
Result<SlurmStop> ask_slurm_why_stopped(const std::string& job_id,
                                        std::chrono::seconds limit = std::chrono::seconds(3),
                                        const std::string& scontrol = "scontrol");

}  // namespace smartvm::launcher
