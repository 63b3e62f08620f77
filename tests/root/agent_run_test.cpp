// The real agent binary, run as root in private namespaces against a bind repository.
#include "agent_harness.hpp"
#include "private_bus.hpp"

#include "catch_result.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

using namespace smartvm;
using namespace smartvm::test;

namespace {

const char* kNobodyJob = "[job]\nuser = nobody\nworkdir = job\n";

void write_script(const AgentScenario& s, const std::string& rel, const std::string& body) {
  write_file(s.repo() / rel, "#!/bin/sh\n" + body);
  chmod((s.repo() / rel).c_str(), 0755);
}

// Job cgroups the agent created and did not remove.
size_t job_cgroups_left() {
  size_t n = 0;
  for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(root, ec))
      if (e.path().filename().string().rfind("smartvm-job.", 0) == 0) ++n;
  }
  return n;
}

uid_t owner(const std::filesystem::path& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_uid;
}

// The agent's host PID: the child of the unshare process we started.
pid_t child_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  pid_t c = 0;
  in >> c;
  return c;
}

}  // namespace

TEST_CASE("a job runs as its user and its result is recorded", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  write_file(s.repo() / "input.txt", "3 4\n");
  s.write_job(std::string(kNobodyJob) +
              "command = /bin/sh\nargs = -c 'read a b < ../input.txt; echo $((a*b)); echo note >&2'\n");
  auto r = s.run();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::succeeded);
  CHECK(st->exit_code == 0);
  CHECK(st->started_at);
  CHECK(st->finished_at >= st->started_at);
  CHECK(st->max_rss_kib > 0);
  CHECK(st->containment == "cgroup");
  CHECK(read_file(s.repo() / "job/stdout.log") == "12\n");
  CHECK(read_file(s.repo() / "job/stderr.log") == "note\n");
  CHECK(owner(s.repo() / "job") == 65534);
  CHECK(owner(s.repo() / "job/exit_status") == 65534);
  CHECK(owner(s.repo() / "job/stdout.log") == 65534);
  CHECK(!std::filesystem::exists(s.repo() / "job/exit_status.heartbeat"));
  CHECK(std::filesystem::is_empty(s.mountpoint()));  // the bind mount died with its namespace
  CHECK(job_cgroups_left() == 0);
}

TEST_CASE("a failing job's exit code is recorded and the agent still succeeds", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/sh\nargs = -c 'exit 3'\n");
  auto r = s.run();
  CHECK(r.exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::failed);
  CHECK(st->exit_code == 3);
}

TEST_CASE("death by signal is recorded with the signal's name", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/sh\nargs = -c 'kill -SEGV $$'\n");
  CHECK(s.run().exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::signaled);
  CHECK(st->signal == "SIGSEGV");
  CHECK(st->exit_code == 128 + SIGSEGV);
}

TEST_CASE("a job that ignores SIGTERM past its timeout is killed", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) +
              "command = /bin/sh\nargs = -c \"trap '' TERM; sleep 60\"\ntimeout = 1\nkill_grace = 1\n");
  auto r = s.run();
  CHECK(r.exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::timed_out);
  CHECK(st->error == "exceeded the timeout of 1 s");
  CHECK(st->signal == "SIGKILL");
  CHECK(st->wall_seconds >= 1.9);
  CHECK(r.seconds < 10);
  CHECK(job_cgroups_left() == 0);
}

TEST_CASE("a daemonizing grandchild does not outlive the job", "[root][agent]") {
  REQUIRE_ROOT();
  auto mode = GENERATE(std::string("cgroup"), std::string("subreaper"));
  AgentScenario s;
  // setsid and a double fork: the daemon leaves the job's session and is re-parented.
  write_script(s, "bin/daemonize",
               "( setsid sh -c 'trap \"echo term > daemon.term; exit 0\" TERM; echo $$ > daemon.pid; "
               "while :; do sleep 0.05; done' </dev/null >/dev/null 2>&1 & )\n"
               "while [ ! -s daemon.pid ]; do sleep 0.01; done\nexit 0\n");
  s.write_job(std::string(kNobodyJob) + "command = bin/daemonize\nkill_grace = 5\n");
  ProcessOptions o;
  if (mode == "subreaper") o.env.push_back("SMARTVM_CONTAINMENT=subreaper");
  auto r = s.run({}, o);
  INFO(mode << "\n" << r.err);
  CHECK(r.exit_code == 0);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::succeeded);
  CHECK(st->containment == mode);
  CHECK(st->leftover_processes >= 1);
  // The daemon got SIGTERM from the agent, before the namespace went away.
  CHECK(read_file(s.repo() / "job/daemon.term") == "term\n");
  CHECK(job_cgroups_left() == 0);
}

TEST_CASE("the job sees its user, groups, umask, environment and no inherited descriptor", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  write_script(s, "bin/whoami",
               "id -u; id -g; id -G; umask; grep NoNewPrivs /proc/self/status; ls /proc/self/fd | tr '\\n' ' '; "
               "echo; pwd\n");
  s.write_job("[job]\nuser = nobody\ngroup = daemon\nworkdir = job\numask = 0027\ncommand = bin/whoami\n"
              "[env]\nOMP_NUM_THREADS = 4\n");
  CHECK(s.run().exit_code == 0);
  CHECK(read_file(s.repo() / "job/stdout.log") ==
        "65534\n1\n1\n0027\nNoNewPrivs:\t1\n0 1 2 3 \n" + (s.mountpoint() / "job").string() + "\n");
  struct stat st {};
  stat((s.repo() / "job/stdout.log").c_str(), &st);
  CHECK((st.st_mode & 0777) == 0640);  // created under the job's umask

  AgentScenario e;
  e.write_job(std::string(kNobodyJob) + "command = /usr/bin/env\n[env]\nOMP_NUM_THREADS = 4\nPATH = /opt/bin\n");
  CHECK(e.run().exit_code == 0);
  CHECK(read_file(e.repo() / "job/stdout.log") == "HOME=/nonexistent\nUSER=nobody\nOMP_NUM_THREADS=4\nPATH=/opt/bin\n");
}

TEST_CASE("an unknown user is a setup failure recorded in the repository", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job("[job]\nuser = no-such-user-xyz\nworkdir = job\ncommand = /bin/true\n");
  auto r = s.run();
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no user \"no-such-user-xyz\"") != std::string::npos);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::setup_failed);
  CHECK(st->error == "check user: [job] user: no user \"no-such-user-xyz\" in this guest's user database");
}

TEST_CASE("a command that cannot be executed is a recorded setup failure", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /no/such/program\n");
  CHECK(s.run().exit_code == 1);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::setup_failed);
  CHECK(st->error == "start job: execute the command /no/such/program: No such file or directory");
}

TEST_CASE("a FIFO where an output goes is a setup failure naming it, not a hang", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/true\n");
  // The job's user's own FIFO, in its own workdir.
  std::filesystem::create_directories(s.repo() / "job");
  REQUIRE(mkfifo((s.repo() / "job/stdout.log").c_str(), 0600) == 0);
  for (const char* p : {"job", "job/stdout.log"}) REQUIRE(chown((s.repo() / p).c_str(), 65534, 65534) == 0);
  ProcessOptions o;
  o.limit = std::chrono::seconds(20);  // the old agent blocked in open() for good
  auto r = s.run({}, o);
  INFO(r.err);
  CHECK(!r.timed_out);
  CHECK(r.exit_code == 1);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::setup_failed);
  CHECK(st->error == "start job: [job] stdout: \"job/stdout.log\" is not a regular file (a FIFO?)");
}

TEST_CASE("a FIFO named appliance.ini is a clear error, not a hang", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  REQUIRE(mkfifo((s.context() / "appliance.ini").c_str(), 0644) == 0);
  ProcessOptions o;
  o.limit = std::chrono::seconds(20);
  auto r = s.run({}, o);
  CHECK(!r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("setup failed: read context: " + (s.context() / "appliance.ini").string() + ": not a regular file") !=
        std::string::npos);
}

TEST_CASE("a missing context is a clear error", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  auto r = run_process({agent_path(), "--context", (s.tmp() / "nothing").string(), "--power", "none"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("setup failed: mount context: the context " + (s.tmp() / "nothing").string() +
                   ": No such file or directory") != std::string::npos);
}

TEST_CASE("a malformed appliance.ini is reported by file and line", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  write_file(s.context() / "appliance.ini", "[job]\ncommand /bin/true\nuser = nobody\ntimeout = -1\n");
  auto r = s.run();
  CHECK(r.exit_code == 1);
  std::string ini = (s.context() / "appliance.ini").string();
  CHECK(r.err.find(ini + ":2: expected 'key = value', a [section] or a comment") != std::string::npos);
  CHECK(r.err.find(ini + ":4: [job] timeout: \"-1\" is not a whole number") != std::string::npos);
  CHECK(r.err.find(ini + ": [job] command: is required but missing") != std::string::npos);
}

TEST_CASE("paths that escape the repository are refused", "[root][agent]") {
  REQUIRE_ROOT();
  SECTION("through ..") {
    AgentScenario s;
    s.write_job("[job]\nuser = nobody\nworkdir = ../../etc\ncommand = /bin/true\n");
    auto r = s.run();
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("[job] workdir: \"../../etc\" escapes the repository through \"..\"") != std::string::npos);
  }
  SECTION("through a symbolic link in the repository") {
    AgentScenario s;
    std::filesystem::create_directories(s.tmp() / "outside");
    chmod((s.tmp() / "outside").c_str(), 01777);
    std::filesystem::create_directory_symlink(s.tmp() / "outside", s.repo() / "runs");
    s.write_job("[job]\nuser = nobody\nworkdir = runs/1\ncommand = /bin/true\n");
    auto r = s.run();
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("setup failed: prepare workdir: [job] workdir: \"runs/1\" escapes the repository") !=
          std::string::npos);
    CHECK(std::filesystem::is_empty(s.tmp() / "outside"));
  }
  SECTION("a command that is a link out of the repository") {
    AgentScenario s;
    std::filesystem::create_directories(s.repo() / "bin");
    std::filesystem::create_symlink("/bin/true", s.repo() / "bin/tool");
    s.write_job(std::string(kNobodyJob) + "command = bin/tool\n");
    CHECK(s.run().exit_code == 1);
    auto st = s.status();
    REQUIRE(st);
    CHECK(st->error == "start job: [job] command: \"bin/tool\" escapes the repository (through a symbolic link or \"..\")");
  }
}

TEST_CASE("a repository that never mounts fails in bounded time", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  write_file(s.context() / "appliance.ini",
             std::string(kNobodyJob) + "command = /bin/true\n[repository]\ntype = bind\nsource = " +
                 (s.tmp() / "missing").string() + "\nmountpoint = " + s.mountpoint().string() +
                 "\nattempts = 3\nretry_delay = 1\n");
  auto r = s.run();
  CHECK(r.exit_code == 1);
  CHECK(r.seconds < 8);
  CHECK(r.err.find("setup failed: mount repository: gave up after 3 attempts: mount " + (s.tmp() / "missing").string()) !=
        std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') >= 3);
}

namespace {

// An NFS repository whose mount helper never answers: /usr/sbin/mount.nfs (where libmount
// looks, through /sbin) is replaced, in the test's mount namespace only, by a script that
// notes its arguments and sleeps.
std::string hang_mount_nfs(const AgentScenario& s, const std::string& repository_extra = "") {
  write_file(s.context() / "appliance.ini", std::string(kNobodyJob) +
                                                "command = /bin/true\n[repository]\ntype = nfs\nsource = 192.0.2.1:/adr\n"
                                                "mountpoint = " + s.mountpoint().string() + "\nattempts = 3\nretry_delay = 1\n" +
                                                repository_extra);
  write_file(s.tmp() / "mount.nfs", "#!/bin/sh\necho \"$@\" > $T/helper-args\nexec sleep 1000\n");
  chmod((s.tmp() / "mount.nfs").c_str(), 0755);
  return "mount --bind $T/mount.nfs /usr/sbin/mount.nfs && ";
}

}  // namespace

TEST_CASE("a mount helper that hangs is stopped at the attempt's limit, within the setup's", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  std::string prepare = hang_mount_nfs(s);
  ProcessOptions o;
  o.env.push_back("SMARTVM_LIMITS=setup=5,mount_attempt=2");
  o.limit = std::chrono::seconds(30);  // the old agent waited for the helper for good
  auto r = s.run_shell(prepare + "exec $AGENT --context $T/ctx --power none", o);
  INFO(r.err);
  CHECK(!r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK(r.seconds < 9);
  // 2 s, 1 s delay, 2 s: the next delay would pass the 5 s.
  CHECK(r.err.find("setup failed: mount repository: gave up after 2 of 3 attempts, at the setup's limit of 5 s: mount "
                   "192.0.2.1:/adr on " + s.mountpoint().string() + ": no answer within 2 s; the mount was stopped") !=
        std::string::npos);
  // Each attempt is bounded on the helper's side too, unless the context says otherwise.
  CHECK(read_file(s.tmp() / "helper-args").find("retry=0,timeo=100") != std::string::npos);
}

TEST_CASE("SIGTERM during a hung mount ends the agent promptly and without a power action", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  std::string prepare = hang_mount_nfs(s, "options = timeo=50,hard\n");
  ProcessOptions o;
  o.limit = std::chrono::seconds(30);
  // Were a power action taken, reboot(2) would end the namespace.
  o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (s.tmp() / "no-bus").string());
  o.while_running = [&s](pid_t unshare_pid) {
    if (!std::filesystem::exists(s.tmp() / "helper-args")) return true;
    kill(child_of(unshare_pid), SIGTERM);
    return false;
  };
  auto r = s.run_shell(prepare + "exec $AGENT --context $T/ctx --power poweroff", o);
  INFO(r.err);
  CHECK(!r.timed_out);
  CHECK(r.seconds < 10);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("setup failed: mount repository: mount 192.0.2.1:/adr on " + s.mountpoint().string() + ": stopped") !=
        std::string::npos);
  CHECK(r.err.find("the agent was asked to stop: no power action of its own") != std::string::npos);
  // The context's own timeo= stays; retry= is still added.
  std::string args = read_file(s.tmp() / "helper-args");
  CHECK(args.find("timeo=50,hard,retry=0") != std::string::npos);
  CHECK(args.find("timeo=100") == std::string::npos);
}

TEST_CASE("the watchdog carries out the power action when the agent is stuck past its bound", "[root][agent][power]") {
  REQUIRE_ROOT();
  AgentScenario s;
  // The main thread waits 30 s for a label; the setup's bound (1 s + 1 s) passes first.
  ProcessOptions o;
  o.env.push_back("SMARTVM_LIMITS=setup=1,watchdog_margin=1");
  o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (s.tmp() / "no-bus").string());
  auto r = s.run({"--label", "SMARTVM-NO-SUCH-LABEL", "--context-wait", "30", "--power", "poweroff"}, o);
  INFO(r.err);
  CHECK(r.seconds < 15);
  CHECK(r.err.find("the agent is stuck (finding the context labelled SMARTVM-NO-SUCH-LABEL) past its limit of 2 s: "
                   "carrying out the power action poweroff regardless") != std::string::npos);
  // reboot(2) in a PID namespace ends its init (see the power test).
  CHECK((r.signal == SIGINT || r.exit_code == 128 + SIGINT));
}

TEST_CASE("under systemd, a job whose unit systemd does not start fails, and is never forked into the agent's sandbox",
          "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/sh\nargs = -c 'touch ran'\n");
  // What the agent takes for "run by systemd as a service": /run/systemd/system, and a
  // cgroup named like a service in the cgroup2 hierarchy (unified/ on a hybrid host). The
  // tmpfs over /run/systemd hides any real systemd's socket, the bus address leads nowhere:
  // systemd "refuses" the unit. The agent moves into the cgroup itself (the namespace's init
  // stays out, or libsystemd takes that cgroup for the root).
  std::string cg = "smartvm-test-" + s.tmp().path().filename().string() + ".service";
  ProcessOptions o;
  o.env.push_back("SMARTVM_CONTAINMENT=");
  o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (s.tmp() / "no-bus").string());
  auto r = s.run_shell("CG=/sys/fs/cgroup/unified; [ -f $CG/cgroup.procs ] || CG=/sys/fs/cgroup; "
                       "mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd; }; "
                       "mkdir /run/systemd/system && mkdir $CG/" + cg + " || exit 99; "
                       "sh -c \"echo \\$\\$ > $CG/" + cg + "/cgroup.procs && exec $AGENT --context $T/ctx --power none\"; "
                       // Deepest first: an agent that forked the job made cgroups below its own.
                       "rc=$?; find $CG/" + cg + " -depth -type d -exec rmdir {} +; exit $rc",
                       o);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::setup_failed);
  CHECK(st->error.rfind("start job: cannot run the job as a systemd unit, and it never runs under the agent's sandbox "
                        "instead (the unit needs systemd 243 or later): cannot connect to systemd", 0) == 0);
  CHECK(!std::filesystem::exists(s.repo() / "job/ran"));
}

TEST_CASE("a malformed SMARTVM_LIMITS is a usage error naming the item", "[root][agent]") {
  AgentScenario s;
  ProcessOptions o;
  o.env.push_back("SMARTVM_LIMITS=setup=600,mount=soon");
  auto r = run_process({agent_path(), "--context", s.context().string(), "--power", "none"}, o);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "smartvm-agent: SMARTVM_LIMITS: \"mount=soon\" is not NAME=SECONDS with NAME setup, mount_attempt, "
                 "wrap_up or watchdog_margin\n");
}

TEST_CASE("a full repository loses output, never the status", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  // A 512 KiB tmpfs as the repository, mounted inside the namespace; results copied out.
  s.write_job(std::string(kNobodyJob) +
              "command = /bin/sh\nargs = -c 'head -c 1000000 /dev/zero; dd if=/dev/zero of=fill bs=4k 2>/dev/null; exit 0'\n");
  auto r = s.run_shell(
      "mount -t tmpfs -o size=512k,mode=1777 tmpfs $T/repo && $AGENT --context $T/ctx --power none; rc=$?; "
      "mkdir $T/out && cp -a $T/repo/. $T/out/; exit $rc");
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto st = parse_status(read_file(s.tmp() / "out/job/exit_status"));
  REQUIRE(st);
  CHECK(st->state == JobState::succeeded);
  CHECK(st->output_error == "stdout: No space left on device");
}

TEST_CASE("output beyond output_limit is cut and flagged", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /usr/bin/head\nargs = -c 10000 /dev/zero\noutput_limit = 1K\n");
  CHECK(s.run().exit_code == 0);
  CHECK(std::filesystem::file_size(s.repo() / "job/stdout.log") == 1024);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->stdout_truncated);
  CHECK(!st->stderr_truncated);
}

TEST_CASE("SIGTERM to the agent cancels the job and is recorded", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/sh\nargs = -c 'touch started; exec sleep 60'\nkill_grace = 2\n");
  ProcessOptions o;
  o.while_running = [&s](pid_t unshare_pid) {
    if (!std::filesystem::exists(s.repo() / "job/started")) return true;
    kill(child_of(unshare_pid), SIGTERM);
    return false;
  };
  auto r = s.run({}, o);
  CHECK(r.exit_code == 0);
  CHECK(r.seconds < 10);
  auto st = s.status();
  REQUIRE(st);
  CHECK(st->state == JobState::cancelled);
  CHECK(st->error == "the agent received SIGTERM (the VM is being shut down)");
}

TEST_CASE("the heartbeat shows progress while the job runs", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/sh\nargs = -c 'sleep 1.5; cat exit_status.heartbeat'\n"
                                        "[status]\nheartbeat = 1\n");
  CHECK(s.run().exit_code == 0);
  std::string hb = read_file(s.repo() / "job/stdout.log");
  CHECK(hb.find("state=running\npid=") == 0);
  CHECK(hb.find("elapsed_seconds=1.") != std::string::npos);
  CHECK(!std::filesystem::exists(s.repo() / "job/exit_status.heartbeat"));
}

TEST_CASE("a dry run prints the plan and touches nothing", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/true\n");
  auto r = s.run({"--dry-run"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("user:         nobody (uid 65534") != std::string::npos);
  CHECK(std::filesystem::is_empty(s.repo()));
}

TEST_CASE("the context is found on an image file and by its label", "[root][agent]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/echo\nargs = from-image\n");
  std::string label = "SVMT" + std::to_string(getpid() % 100000);
  std::string img = (s.tmp() / "ctx.img").string();
  auto mk = run_process({"/usr/sbin/mkfs.ext4", "-q", "-L", label, "-d", s.context().string(), img, "4M"});
  REQUIRE(mk.exit_code == 0);

  SECTION("an image file given with --context") {
    auto r = s.run({"--context", img});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(read_file(s.repo() / "job/stdout.log") == "from-image\n");
  }
  SECTION("a block device found by label") {
    auto attach = run_process({"/usr/sbin/losetup", "--find", "--show", img});
    REQUIRE(attach.exit_code == 0);
    std::string dev = attach.out.substr(0, attach.out.find('\n'));
    struct Detach {
      std::string dev;
      ~Detach() { run_process({"/usr/sbin/losetup", "-d", dev}); }
    } detach{dev};
    auto r = s.run({"--label", label, "--context-wait", "5"});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("opening the context " + dev) != std::string::npos);
    CHECK(read_file(s.repo() / "job/stdout.log") == "from-image\n");
  }
  SECTION("a label that never appears") {
    auto r = s.run({"--label", label + "X", "--context-wait", "1"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("no filesystem labelled \"" + label + "X\" appeared within 1 s") != std::string::npos);
  }
}

TEST_CASE("power off goes through logind, else systemd, else reboot(2)", "[root][agent][power]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job(std::string(kNobodyJob) + "command = /bin/true\n[power]\naction = poweroff\n");
  SECTION("logind") {
    PrivateBus bus;
    FakePowerService logind(bus.address(), FakePowerService::Kind::logind);
    ProcessOptions o;
    o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=" + bus.address());
    auto r = s.run({"--power", "poweroff"}, o);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(logind.calls() == std::vector<std::string>{"PowerOff(false)"});
  }
  SECTION("systemd when there is no logind") {
    PrivateBus bus;
    FakePowerService systemd(bus.address(), FakePowerService::Kind::systemd);
    ProcessOptions o;
    o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=" + bus.address());
    auto r = s.run({"--power=reboot"}, o);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(systemd.calls() == std::vector<std::string>{"StartUnit(reboot.target,replace-irreversibly)"});
  }
  SECTION("reboot(2) without a bus: in a PID namespace it ends the namespace's init") {
    ProcessOptions o;
    o.env.push_back("DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (s.tmp() / "no-bus").string());
    auto r = s.run({"--power", "poweroff"}, o);
    INFO(r.err);
    // The kernel's answer to RB_POWER_OFF there: SIGINT to the namespace's init, which unshare
    // passes on by dying of it too.
    CHECK((r.signal == SIGINT || r.exit_code == 128 + SIGINT));
    CHECK(r.err.find("calling reboot(2)") != std::string::npos);
    auto st = s.status();
    REQUIRE(st);
    CHECK(st->state == JobState::succeeded);  // recorded before the power action
  }
}
