// How a job's end reads in its status record, and what it is started with: the runner's pure
// parts, without a process.
#include "job_launch.hpp"
#include "job_outcome.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

using namespace smartvm;
using namespace smartvm::agent;
using namespace std::chrono_literals;

namespace {

JobEnd ending(int status) {
  JobEnd end;
  end.status = status;
  return end;
}

StatusRecord ended(const JobEnd& end) {
  StatusRecord r;
  record_end(r, end);
  return r;
}

}  // namespace

TEST_CASE("an exit status is success or failure with its code", "[job_outcome]") {
  StatusRecord ok = ended(ending(W_EXITCODE(0, 0)));
  CHECK(ok.state == JobState::succeeded);
  CHECK(ok.exit_code == 0);
  StatusRecord failed = ended(ending(W_EXITCODE(3, 0)));
  CHECK(failed.state == JobState::failed);
  CHECK(failed.exit_code == 3);
  CHECK(failed.signal.empty());
}

TEST_CASE("death by signal is 128 plus the signal, with its name", "[job_outcome]") {
  StatusRecord r = ended(ending(W_EXITCODE(0, SIGSEGV) | WCOREFLAG));
  CHECK(r.state == JobState::signaled);
  CHECK(r.exit_code == 128 + SIGSEGV);
  CHECK(r.signal == "SIGSEGV");
  CHECK(r.core_dumped);
  CHECK(signal_name(SIGKILL) == "SIGKILL");
  CHECK(signal_name(SIGRTMIN + 30).rfind("signal ", 0) == 0);
}

TEST_CASE("a timeout outranks how the job died and a later stop request", "[job_outcome]") {
  JobEnd end = ending(W_EXITCODE(0, SIGKILL));
  end.timed_out = true;
  end.cancelled_by = SIGTERM;
  end.timeout = 7s;
  StatusRecord r = ended(end);
  CHECK(r.state == JobState::timed_out);
  CHECK(r.error == "exceeded the timeout of 7 s");
  CHECK(r.signal == "SIGKILL");  // how it ended is kept
  end.timed_out = false;
  r = ended(end);
  CHECK(r.state == JobState::cancelled);
  CHECK(r.error == "the agent received SIGTERM (the VM is being shut down)");
}

TEST_CASE("what the job used is recorded, and OOM kills are an error", "[job_outcome]") {
  JobEnd end = ending(W_EXITCODE(0, SIGKILL));
  end.usage.user_seconds = 1.5;
  end.usage.system_seconds = 0.25;
  end.usage.max_rss_kib = 2048;
  end.usage.memory_peak_kib = 4096;
  end.usage.oom_kills = 2;
  StatusRecord r = ended(end);
  CHECK(r.user_cpu_seconds == 1.5);
  CHECK(r.system_cpu_seconds == 0.25);
  CHECK(r.max_rss_kib == 2048);
  CHECK(r.memory_peak_kib == 4096u);
  CHECK(r.oom_kills == 2);
  CHECK(r.error == "the OOM killer killed 2 process(es) of the job");
  CHECK(!ended(ending(W_EXITCODE(0, 0))).memory_peak_kib);  // only a cgroup knows it
}

TEST_CASE("the job's environment: PATH, HOME and USER, each replaced by the job's own", "[job_outcome]") {
  JobSpec spec;
  Credentials creds{"alice", 1000, 1000, {1000}, "/home/alice"};
  CHECK(job_environment(spec, creds) ==
        std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/alice", "USER=alice"});
  spec.env = {{"PATH", "/opt/bin"}, {"OMP_NUM_THREADS", "4"}};
  CHECK(job_environment(spec, creds) ==
        std::vector<std::string>{"HOME=/home/alice", "USER=alice", "PATH=/opt/bin", "OMP_NUM_THREADS=4"});
}
