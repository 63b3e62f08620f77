// Why Slurm stopped a job, from what slurmctld says: the texts are `scontrol show job -o` as
// Slurm 22.05 (Debian 12) printed them to a batch script at its SIGTERM; the stand-ins for
// scontrol are real programs run the way smartvm-run runs scontrol.
#include "slurm_stop.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>

using namespace smartvm;
using namespace smartvm::launcher;
using namespace smartvm::test;

namespace {

// `-t 1`, killed 84 s after its start: EndTime is the moment slurmctld acted.
const char* kTimeLimit =
    "JobId=1 JobName=job.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) "
    "QOS=(null) JobState=COMPLETING Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:0 RunTime=00:01:24 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-12-03T19:14:25 "
    "EligibleTime=2026-12-03T19:14:25 AccrueTime=2026-12-03T19:14:25 StartTime=2026-12-03T19:14:26 "
    "EndTime=2026-12-03T19:15:50 Deadline=N/A SuspendTime=None SecsPreSuspend=0 Partition=exp NodeList=localhost "
    "Command=./job.sh WorkDir=/tmp/slurmtl-exp StdOut=/tmp/slurmtl-exp/out.1 Power=\n";
// scancel 5 s after the start: EndTime again the moment slurmctld acted.
const char* kScancel =
    "JobId=2 JobName=job.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901758 Nice=0 Account=(null) "
    "QOS=(null) JobState=COMPLETING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:0 RunTime=00:00:05 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-12-03T19:16:15 "
    "EligibleTime=2026-12-03T19:16:15 AccrueTime=2026-12-03T19:16:15 StartTime=2026-12-03T19:16:15 "
    "EndTime=2026-12-03T19:16:20 Deadline=N/A SuspendTime=None SecsPreSuspend=0 Partition=exp NodeList=localhost "
    "Command=./job.sh WorkDir=/tmp/slurmtl-exp StdOut=/tmp/slurmtl-exp/out.2 Power=\n";

// scancel 64 s into a job of -t 1, whose limit Slurm had not acted on yet (JobState=RUNNING
// just before): Slurm's final state CANCELLED.
const char* kLateScancel =
    "JobId=6 JobName=job.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901754 Nice=0 Account=(null) "
    "QOS=(null) JobState=COMPLETING Reason=None Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:0 RunTime=00:01:04 TimeLimit=00:01:00 TimeMin=N/A SubmitTime=2026-12-03T19:29:13 "
    "EligibleTime=2026-12-03T19:29:13 AccrueTime=2026-12-03T19:29:13 StartTime=2026-12-03T19:29:13 "
    "EndTime=2026-12-03T19:30:17 Deadline=N/A SuspendTime=None SecsPreSuspend=0 Partition=exp NodeList=localhost "
    "Command=./job.sh WorkDir=/tmp/slurmtl-exp StdOut=/tmp/slurmtl-exp/out.6 Power=\n";
// -t 1 raised to 2 minutes by `scontrol update` 2 s into the job; killed 140 s after its start.
const char* kRaisedLimit =
    "JobId=4 JobName=job.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901756 Nice=0 Account=(null) "
    "QOS=(null) JobState=COMPLETING Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 "
    "ExitCode=0:0 RunTime=00:02:20 TimeLimit=00:02:00 TimeMin=N/A SubmitTime=2026-12-03T19:18:30 "
    "EligibleTime=2026-12-03T19:18:30 AccrueTime=2026-12-03T19:18:30 StartTime=2026-12-03T19:18:30 "
    "EndTime=2026-12-03T19:20:50 Deadline=N/A SuspendTime=None SecsPreSuspend=0 Partition=exp NodeList=localhost "
    "Command=./job.sh WorkDir=/tmp/slurmtl-exp StdOut=/tmp/slurmtl-exp/out.4 Power=\n";

// A stand-in for scontrol in `dir`: a shell script with `body`.
std::string stand_in(const TempDir& dir, const std::string& body) {
  std::string path = (dir / "scontrol").string();
  write_file(path, "#!/bin/sh\n" + body + "\n");
  chmod(path.c_str(), 0755);
  return path;
}

}  // namespace

TEST_CASE("slurm stop: the time limit is Slurm's reason TimeLimit, a scancel's is not", "[slurm]") {
  CHECK(slurm_stop_from(kTimeLimit) == SlurmStop::time_limit);
  CHECK(slurm_stop_from(kScancel) == SlurmStop::other);
}

TEST_CASE("slurm stop: the end time does not decide: both paths set it to the moment Slurm acted", "[slurm]") {
  // Neither text's EndTime is ahead of the SIGTERM. A scancel 64 s into a one-minute job, after
  // its limit passed but before slurmctld acted (it checks every 30 s): StartTime + TimeLimit
  // is past, yet Slurm records CANCELLED, and its reason says None.
  CHECK(slurm_stop_from(kLateScancel) == SlurmStop::other);
  // A limit raised with `scontrol update TimeLimit=2` that then ran out (140 s after the start).
  CHECK(slurm_stop_from(kRaisedLimit) == SlurmStop::time_limit);
}

TEST_CASE("slurm stop: a completed job's state TIMEOUT, the first Reason only, other reasons and states", "[slurm]") {
  CHECK(slurm_stop_from("JobId=3 JobState=TIMEOUT Reason=None TimeLimit=00:01:00\n") == SlurmStop::time_limit);
  CHECK(slurm_stop_from("JobId=3 JobState=CANCELLED Reason=None\n") == SlurmStop::other);
  CHECK(slurm_stop_from("JobId=3 JobState=RUNNING Reason=None\n") == SlurmStop::other);
  CHECK(slurm_stop_from("JobId=3 JobState=COMPLETING Reason=DeadLine\n") == SlurmStop::other);
  // Free text later on the line (a Comment) cannot pass for the reason.
  CHECK(slurm_stop_from("JobId=3 JobState=COMPLETING Reason=None Comment=Reason=TimeLimit\n") == SlurmStop::other);
  CHECK(slurm_stop_from("JobId=3 JobState=COMPLETING Reason=TimeLimitX\n") == SlurmStop::other);
  CHECK(slurm_stop_from("JobId=3 JobState=COMPLETING Reason=None\nJobId=4 Reason=TimeLimit\n") == SlurmStop::other);
  CHECK(slurm_stop_from("") == SlurmStop::other);
}

TEST_CASE("slurm stop: scontrol is asked about the job, and its answer read", "[slurm]") {
  TempDir dir;
  // Answers only `show job -o 1`, as scontrol does.
  std::string scontrol = stand_in(dir, "[ \"$*\" = 'show job -o 1' ] || exit 9\nprintf '%s' '" + std::string(kTimeLimit) + "'");
  auto why = ask_slurm_why_stopped("1", std::chrono::seconds(5), scontrol);
  REQUIRE(why);
  CHECK(*why == SlurmStop::time_limit);
  scontrol = stand_in(dir, "printf '%s' '" + std::string(kScancel) + "'");
  why = ask_slurm_why_stopped("2", std::chrono::seconds(5), scontrol);
  REQUIRE(why);
  CHECK(*why == SlurmStop::other);
}

TEST_CASE("slurm stop: a failing, silent or missing scontrol is an error that says so, within the bound", "[slurm]") {
  TempDir dir;
  std::string scontrol = stand_in(dir, "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)'; exit 1");
  auto why = ask_slurm_why_stopped("7", std::chrono::seconds(5), scontrol);
  REQUIRE_FALSE(why);
  CHECK(why.error().message == "ask Slurm why job 7 was stopped (" + scontrol + " show job -o 7): exit status 1: " +
                                   "slurm_load_jobs error: Unable to contact slurm controller (connect failure)");
  scontrol = stand_in(dir, "echo nothing of a job");
  why = ask_slurm_why_stopped("7", std::chrono::seconds(5), scontrol);
  REQUIRE_FALSE(why);
  CHECK(why.error().message.find(": not a job's record: nothing of a job") != std::string::npos);
  // A controller that does not answer: given up after the bound, not after scontrol's own
  // timeouts (tens of seconds), which would outlast Slurm's KillWait.
  scontrol = stand_in(dir, "exec sleep 30");
  auto start = std::chrono::steady_clock::now();
  why = ask_slurm_why_stopped("7", std::chrono::seconds(1), scontrol);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(why);
  CHECK(why.error().message.find(": no answer within 1 s") != std::string::npos);
  why = ask_slurm_why_stopped("7", std::chrono::seconds(1), (dir / "no-scontrol").string());
  REQUIRE_FALSE(why);
  CHECK(why.error().message.find(": cannot run " + (dir / "no-scontrol").string() + " (is Slurm's client installed?)") !=
        std::string::npos);
}
