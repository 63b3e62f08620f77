// The agent's decisions, checked against a System that records what it is asked to do.
#include "lifecycle.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>


using namespace smartvm;
using namespace smartvm::agent;
using namespace std::chrono_literals;

namespace {

class FakeSystem : public System {
 public:
  std::vector<std::string> calls;
  test::TempDir context;
  std::string label_device = "/dev/sr0";
  bool find_fails = false, context_fails = false, unknown_user = false, prepare_fails = false, record_fails = false;
  int repository_failures = 0;  // this many mount attempts fail first
  bool stop_after_mount = false;
  bool job_throws = false;
  // A clock that moves only when the agent waits: a sleep, or a mount attempt taking
  // `mount_takes` (an attempt longer than its limit ends at the limit, as a hung one would).
  std::chrono::seconds clock{0};
  std::optional<std::chrono::seconds> mount_takes;
  std::vector<std::chrono::seconds> mount_limits;
  std::vector<std::string> watchdog;  // "LIMIT ACTION" for each arm_watchdog, apart from calls
  StatusRecord job_result;
  std::optional<StatusRecord> recorded;

  FakeSystem() {
    job_result.state = JobState::succeeded;
    job_result.exit_code = 0;
  }
  void write_context(const std::string& ini) { test::write_file(context / "appliance.ini", ini); }

  Result<std::string> find_context(const std::string& label) override {
    calls.push_back("find_context " + label);
    if (find_fails) return make_error("no filesystem labelled \"" + label + "\" appeared within 60 s");
    return label_device;
  }
  Result<std::string> mount_context(const std::string& source) override {
    calls.push_back("mount_context " + source);
    if (context_fails) return make_error("mount " + source + ": wrong fs type");
    return context.path().string();
  }
  void unmount_context() override { calls.push_back("unmount_context"); }
  Result<Credentials> resolve_credentials(const JobSpec& spec) override {
    calls.push_back("resolve_credentials " + spec.user);
    if (unknown_user) return make_error("[job] user: no user \"" + spec.user + "\" in this guest's user database");
    return Credentials{spec.user, 1000, 1000, {1000}, "/home/" + spec.user};
  }
  Result<void> mount_repository(const RepositorySpec& repo, std::chrono::seconds limit) override {
    calls.push_back("mount_repository " + repo.source);
    mount_limits.push_back(limit);
    if (mount_takes) {
      clock += std::min(*mount_takes, limit);
      if (*mount_takes >= limit) return make_error("mount " + repo.source + ": no answer within " + std::to_string(limit.count()) + " s");
    }
    if (repository_failures > 0) {
      --repository_failures;
      return make_error("mount " + repo.source + ": Connection refused");
    }
    return {};
  }
  Result<void> unmount_repository(const RepositorySpec& repo) override {
    calls.push_back("unmount_repository " + repo.mountpoint);
    return {};
  }
  Result<std::unique_ptr<Workspace>> prepare_workspace(const JobSpec&, const Credentials& c) override {
    calls.push_back("prepare_workspace as " + c.user);
    if (prepare_fails) return make_error("[job] workdir: \"runs\" escapes the repository");
    return std::make_unique<Workspace>();
  }
  StatusRecord run_job(const JobSpec& spec, const Credentials&, Workspace&) override {
    calls.push_back("run_job " + spec.command);
    if (job_throws) throw std::runtime_error("a bug");
    return job_result;
  }
  Result<void> record_status(Workspace&, const StatusRecord& r) override {
    calls.push_back(std::string("record_status ") + to_string(r.state));
    if (record_fails) return make_error("write exit_status: No space left on device");
    recorded = r;
    return {};
  }
  Result<void> send_status_to_host(const StatusRecord& r) override {
    calls.push_back(std::string("send_status_to_host ") + to_string(r.state));
    return {};
  }
  Result<void> power(PowerAction a, std::chrono::seconds delay) override {
    calls.push_back(std::string("power ") + to_string(a) + " " + std::to_string(delay.count()));
    return {};
  }
  bool sleep(std::chrono::seconds d) override {
    calls.push_back("sleep " + std::to_string(d.count()));
    clock += d;
    return true;
  }
  bool stop_requested() override {
    return stop_after_mount &&
           std::find(calls.begin(), calls.end(), "mount_repository 10.0.0.1:/adr") != calls.end();
  }
  void notify_step(const std::string&) override {}
  std::chrono::seconds elapsed() override { return clock; }
  void arm_watchdog(std::chrono::seconds limit, PowerAction action) override {
    watchdog.push_back(std::to_string(limit.count()) + " " + to_string(action));
  }
};

const char* kJob = R"([job]
command = /bin/solve
user = svc
workdir = runs/1
[repository]
type = nfs
source = 10.0.0.1:/adr
mountpoint = /mnt/adr
attempts = 6
retry_delay = 2
[power]
action = poweroff
delay = 3
)";

AgentResult run(FakeSystem& sys, Options o = {}, const Limits& limits = {}) { return run_agent(o, sys, limits); }

}  // namespace

TEST_CASE("a good job goes through the ten steps in order", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  AgentResult r = run(sys);
  CHECK(r.exit_code == 0);
  CHECK(sys.calls == std::vector<std::string>{
                         "find_context CONTEXT", "mount_context /dev/sr0", "resolve_credentials svc",
                         "mount_repository 10.0.0.1:/adr", "prepare_workspace as svc", "run_job /bin/solve",
                         "record_status succeeded", "unmount_repository /mnt/adr", "unmount_context",
                         "send_status_to_host succeeded", "power poweroff 3"});
  REQUIRE(sys.recorded);
  CHECK(!sys.recorded->agent_version.empty());
}

TEST_CASE("a failed job is still a successful agent run", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.job_result.state = JobState::failed;
  sys.job_result.exit_code = 3;
  CHECK(run(sys).exit_code == 0);
  CHECK(sys.recorded->exit_code == 3);
}

TEST_CASE("the repository mount is retried with growing delays, then succeeds", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.repository_failures = 5;
  CHECK(run(sys).exit_code == 0);
  std::vector<std::string> sleeps;
  for (const auto& c : sys.calls)
    if (c.rfind("sleep", 0) == 0) sleeps.push_back(c);
  CHECK(sleeps == std::vector<std::string>{"sleep 2", "sleep 4", "sleep 8", "sleep 16", "sleep 16"});
  CHECK(sys.recorded->state == JobState::succeeded);
}

TEST_CASE("a repository that never mounts ends in setup_failed and still powers off", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.repository_failures = 100;
  AgentResult r = run(sys);
  CHECK(r.exit_code == 1);
  CHECK(std::count(sys.calls.begin(), sys.calls.end(), "mount_repository 10.0.0.1:/adr") == 6);
  CHECK(!sys.recorded);  // nowhere to record it: the console and journal have it
  REQUIRE(r.status);
  CHECK(r.status->error == "mount repository: gave up after 6 attempts: mount 10.0.0.1:/adr: Connection refused");
  CHECK(sys.calls.end()[-3] == "unmount_context");
  CHECK(sys.calls.end()[-2] == "send_status_to_host setup_failed");  // the host learns what the repository cannot
  CHECK(sys.calls.back() == "power poweroff 3");
}

TEST_CASE("repository attempts that hang end within the setup's limit, then power off", "[lifecycle]") {
  FakeSystem sys;
  std::string job = kJob;
  job.replace(job.find("attempts = 6"), 12, "attempts = 10");
  sys.write_context(job);
  sys.mount_takes = 3600s;  // every attempt hangs until it is stopped
  Limits limits;
  limits.setup = 300s;
  AgentResult r = run(sys, {}, limits);
  CHECK(r.exit_code == 1);
  // 60 s each, the last one cut to what is left; the next delay would pass the limit.
  CHECK(sys.mount_limits == std::vector<std::chrono::seconds>{60s, 60s, 60s, 60s, 30s});
  CHECK(sys.clock == 300s);
  REQUIRE(r.status);
  CHECK(r.status->error ==
        "mount repository: gave up after 5 of 10 attempts, at the setup's limit of 300 s: mount 10.0.0.1:/adr: no answer within 30 s");
  CHECK(sys.calls.back() == "power poweroff 3");
}

TEST_CASE("the watchdog covers the setup, a job with a timeout and the wrap-up", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  run(sys);
  // setup 900 + margin 120; again once the power action is known; none for a job without a
  // timeout; wrap-up 300 + power delay 3 + margin 120; disarmed at the end.
  CHECK(sys.watchdog == std::vector<std::string>{"1020 poweroff", "1020 poweroff", "0 poweroff", "423 poweroff", "0 poweroff"});

  FakeSystem timed;
  std::string job = kJob;
  job.insert(job.find("[repository]"), "timeout = 600\nkill_grace = 10\n");
  timed.write_context(job);
  run(timed);
  CHECK(timed.watchdog[2] == "730 poweroff");

  FakeSystem cancelled;
  cancelled.write_context(kJob);
  cancelled.job_result.state = JobState::cancelled;
  run(cancelled);
  CHECK(cancelled.watchdog[3] == "0 poweroff");  // stopped: nothing of ours powers off

  FakeSystem dry;
  dry.write_context(kJob);
  Options o;
  o.dry_run = true;
  run(dry, o);
  CHECK(dry.watchdog.empty());
}

TEST_CASE("an exception inside a step still ends in the power action", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.job_throws = true;
  AgentResult r = run(sys);
  CHECK(r.exit_code == 1);
  CHECK(sys.calls.back() == "power poweroff 3");
}

TEST_CASE("a malformed context powers off with its own action, or the default", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context("[job]\ncommand = x y\n[power]\naction = reboot\n");
  AgentResult r = run(sys);
  CHECK(r.exit_code == 1);
  CHECK(sys.calls.back() == "power reboot 0");
  CHECK(std::find(sys.calls.begin(), sys.calls.end(), "mount_repository 10.0.0.1:/adr") == sys.calls.end());

  FakeSystem unreadable;
  unreadable.write_context("[power]\naction = \x01\n[job\n");
  run(unreadable);
  CHECK(unreadable.calls.back() == "power poweroff 0");
}

TEST_CASE("the --power option overrides the context's action and none does nothing", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  Options o;
  o.power = PowerAction::none;
  run(sys, o);
  CHECK(sys.calls.back() == "send_status_to_host succeeded");
}

TEST_CASE("a context that cannot be found or mounted still powers off", "[lifecycle]") {
  FakeSystem lost;
  lost.find_fails = true;
  CHECK(run(lost).exit_code == 1);
  CHECK(lost.calls ==
        std::vector<std::string>{"find_context CONTEXT", "send_status_to_host setup_failed", "power poweroff 0"});

  FakeSystem broken;
  broken.context_fails = true;
  Options o;
  o.context = "/dev/vdb";
  CHECK(run(broken, o).exit_code == 1);
  CHECK(broken.calls ==
        std::vector<std::string>{"mount_context /dev/vdb", "send_status_to_host setup_failed", "power poweroff 0"});
}

TEST_CASE("an unknown user is recorded in the repository as setup_failed", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.unknown_user = true;
  CHECK(run(sys).exit_code == 1);
  CHECK(std::find(sys.calls.begin(), sys.calls.end(), "prepare_workspace as root") != sys.calls.end());
  CHECK(std::find(sys.calls.begin(), sys.calls.end(), "run_job /bin/solve") == sys.calls.end());
  REQUIRE(sys.recorded);
  CHECK(sys.recorded->state == JobState::setup_failed);
  CHECK(sys.recorded->error == "check user: [job] user: no user \"svc\" in this guest's user database");
}

TEST_CASE("a workdir that cannot be prepared unmounts everything", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.prepare_fails = true;
  CHECK(run(sys).exit_code == 1);
  CHECK(std::find(sys.calls.begin(), sys.calls.end(), "unmount_repository /mnt/adr") != sys.calls.end());
  CHECK(!sys.recorded);
}

TEST_CASE("a stop during setup is recorded as cancelled and the job never starts", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.stop_after_mount = true;
  CHECK(run(sys).exit_code == 0);
  CHECK(std::find(sys.calls.begin(), sys.calls.end(), "run_job /bin/solve") == sys.calls.end());
  REQUIRE(sys.recorded);
  CHECK(sys.recorded->state == JobState::cancelled);
  // Whoever stopped the agent decides about the VM.
  CHECK(std::none_of(sys.calls.begin(), sys.calls.end(), [](const std::string& c) { return c.rfind("power", 0) == 0; }));
}

TEST_CASE("a job cancelled while it runs is recorded, and the agent leaves the VM to whoever stopped it", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.job_result.state = JobState::cancelled;
  sys.job_result.error = "the agent received SIGTERM (the VM is being shut down)";
  CHECK(run(sys).exit_code == 0);
  REQUIRE(sys.recorded);
  CHECK(sys.recorded->state == JobState::cancelled);
  CHECK(sys.calls.back() == "send_status_to_host cancelled");
}

TEST_CASE("a status that cannot be recorded makes the agent fail", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.record_fails = true;
  CHECK(run(sys).exit_code == 1);
  CHECK(sys.calls.back() == "power poweroff 3");
}

TEST_CASE("a job that could not start counts as a setup failure", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  sys.job_result = StatusRecord{};
  sys.job_result.error = "start job: execute the command /bin/solve: No such file or directory";
  CHECK(run(sys).exit_code == 1);
  CHECK(sys.recorded->state == JobState::setup_failed);
}

TEST_CASE("a dry run prints the plan and changes nothing", "[lifecycle]") {
  FakeSystem sys;
  sys.write_context(kJob);
  Options o;
  o.dry_run = true;
  o.context = "/dev/sr0";
  AgentResult r = run_agent(o, sys);
  CHECK(r.exit_code == 0);
  CHECK(sys.calls == std::vector<std::string>{"mount_context /dev/sr0", "resolve_credentials svc", "unmount_context"});
  CHECK(r.plan.find("repository:   nfs 10.0.0.1:/adr on /mnt/adr, 6 attempts") != std::string::npos);
  CHECK(r.plan.find("command:      /bin/solve\n") != std::string::npos);
  CHECK(r.plan.find("user:         svc (uid 1000, gid 1000, groups 1000)") != std::string::npos);
}

TEST_CASE("retry delays double up to eight times the base", "[lifecycle]") {
  CHECK(retry_delay_before(2, 2s) == 2s);
  CHECK(retry_delay_before(3, 2s) == 4s);
  CHECK(retry_delay_before(5, 2s) == 16s);
  CHECK(retry_delay_before(50, 2s) == 16s);
  CHECK(retry_delay_before(3, 0s) == 0s);
}
