// The agent's promise inside a real VM: a CD-ROM with an iso9660 context labelled CONTEXT, a
// 9p or NFSv4 repository, the job, the status file the host sees, and a real power-off (qemu
// exits 0). Every boot has a hard limit, so a hung guest fails instead of hanging CI.
#include "vm_harness.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace smartvm;
using namespace smartvm::test;

namespace {

const char* kCompute =
    "[job]\ncommand = /bin/sh\nargs = -c 'read a b < ../input.txt; echo $((a*b)); id -un'\nworkdir = run\n"
    "user = nobody\ntimeout = 60\n";

// The agent's own account of its steps on the console.
bool said(const VmRun& r, const std::string& text) { return r.serial().find(text) != std::string::npos; }

// kCompute ran to success: qemu exited (the guest powered itself off), the output is right, and
// the job was contained: in a cgroup of its own, or as a systemd unit of its own.
void check_computed(const VmScenario& s, const VmRun& r, const std::string& containment = "cgroup") {
  CHECK(r.qemu.exit_code == 0);
  CHECK(read_file(s.repo() / "run/stdout.log") == "42\nnobody\n");
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::succeeded);
  CHECK(st->containment == containment);
}

}  // namespace

TEST_CASE("vm: a job reads its input from a 9p repository and writes its output", "[vm]") {
  VmScenario s;
  write_file(s.repo() / "input.txt", "6 7\n");
  s.make_context(kCompute, Repository::ninep);
  VmRun r = s.boot(Repository::ninep);
  INFO(r.serial());
  check_computed(s, r);
  CHECK(said(r, "opening the context /dev/sr0"));
  CHECK(said(r, "calling reboot(2)"));
}

TEST_CASE("vm: a job reads and writes over NFSv4 served by nfs-ganesha", "[vm]") {
  VmScenario s;
  write_file(s.repo() / "input.txt", "6 7\n");
  Ganesha nfs(s.repo());
  s.make_context(kCompute, Repository::nfs);
  VmRun r = s.boot(Repository::nfs, nfs.port());
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  CHECK(read_file(s.repo() / "run/stdout.log") == "42\nnobody\n");
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::succeeded);
}

TEST_CASE("vm: an NFS server that stops answering while the job runs does not keep the VM up", "[vm]") {
  VmScenario s;
  Ganesha nfs(s.repo());
  // The job writes until its timeout; meanwhile the server stops answering, so the agent's
  // fsync of the output after the job blocks in the kernel on the hard mount, for good. The
  // watchdog's bound for the job (timeout 15 + kill_grace 1 + margin 5 s) ends the VM.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'touch started; while :; do echo x; sleep 0.2; done'\n"
                 "workdir = run\nuser = nobody\ntimeout = 15\nkill_grace = 1\n",
                 Repository::nfs);
  bool paused = false;
  VmRun r = s.boot(Repository::nfs, nfs.port(), std::chrono::seconds(150), "ctx.iso",
                   "SMARTVM_LIMITS=watchdog_margin=5", [&](pid_t) {
                     if (!std::filesystem::exists(s.repo() / "run/started")) return true;
                     nfs.pause();
                     paused = true;
                     return false;
                   });
  INFO(r.serial());
  CHECK(paused);
  CHECK(!r.qemu.timed_out);
  CHECK(r.qemu.exit_code == 0);
  CHECK(said(r, "past its limit of 21 s: carrying out the power action poweroff regardless"));
}

TEST_CASE("vm: a failing job's exit code is recorded", "[vm]") {
  VmScenario s;
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'echo bad >&2; exit 3'\nworkdir = run\nuser = nobody\n",
                 Repository::ninep);
  VmRun r = s.boot(Repository::ninep);
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::failed);
  CHECK(st->exit_code == 3);
  CHECK(read_file(s.repo() / "run/stderr.log") == "bad\n");
}

TEST_CASE("vm: a job past its timeout is stopped and the VM still powers off", "[vm]") {
  VmScenario s;
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c \"trap '' TERM; sleep 300\"\nworkdir = run\nuser = nobody\n"
                 "timeout = 2\nkill_grace = 1\n",
                 Repository::ninep);
  VmRun r = s.boot(Repository::ninep);
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  CHECK(r.qemu.seconds < 40);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::timed_out);
  CHECK(st->signal == "SIGKILL");
}

TEST_CASE("vm: a malformed appliance.ini is reported on the console and the VM powers off", "[vm]") {
  VmScenario s;
  s.make_context("[job]\ncommand /bin/true\nuser = nobody\ntimeout = soon\n", Repository::ninep, false);
  VmRun r = s.boot(Repository::ninep, 0, std::chrono::seconds(60));
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  CHECK(said(r, "appliance.ini:2: expected 'key = value', a [section] or a comment"));
  CHECK(said(r, "appliance.ini:4: [job] timeout: \"soon\" is not a whole number"));
  CHECK(said(r, "setup failed: read context"));
  CHECK(said(r, "calling reboot(2)"));
}

TEST_CASE("vm: a repository that cannot be mounted ends in bounded time", "[vm]") {
  VmScenario s;
  s.make_context(std::string("[job]\ncommand = /bin/true\nuser = nobody\n") +
                     "[repository]\ntype = 9p\nsource = no-such-tag\nmountpoint = /mnt/adr\nattempts = 2\nretry_delay = 1\n",
                 Repository::ninep);
  VmRun r = s.boot(Repository::ninep, 0, std::chrono::seconds(60));
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  CHECK(said(r, "setup failed: mount repository: gave up after 2 attempts: mount no-such-tag on /mnt/adr"));
  CHECK(said(r, "calling reboot(2)"));
}

TEST_CASE("vm: two VMs at once on one repository write their own workdirs", "[vm]") {
  VmScenario s;
  write_file(s.repo() / "input.txt", "6 7\n");
  std::string second = kCompute;
  second.replace(second.find("workdir = run"), 13, "workdir = run2");
  s.make_context(kCompute, Repository::ninep, true, "one.iso");
  s.make_context(second, Repository::ninep, true, "two.iso");
  VmRun one, two;
  std::thread t([&] { one = s.boot(Repository::ninep, 0, std::chrono::seconds(120), "one.iso"); });
  two = s.boot(Repository::ninep, 0, std::chrono::seconds(120), "two.iso");
  t.join();
  INFO(one.serial() << "\n----\n" << two.serial());
  CHECK(one.qemu.exit_code == 0);
  CHECK(two.qemu.exit_code == 0);
  for (const char* dir : {"run", "run2"}) {
    CHECK(read_file(s.repo() / dir / "stdout.log") == "42\nnobody\n");
    auto st = s.status(std::string(dir) + "/exit_status");
    REQUIRE(st);
    CHECK(st->state == JobState::succeeded);
  }
}

TEST_CASE("vm: the packaged agent runs under systemd and powers off through logind", "[vm][systemd]") {
  VmScenario s;
  write_file(s.repo() / "input.txt", "6 7\n");
  s.make_context(kCompute, Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  check_computed(s, r, "systemd");
  CHECK(said(r, "power action poweroff requested through logind"));
}

TEST_CASE("vm: under systemd the job is a unit of its own, free of the agent's sandbox, with exit code, leftovers and memory recorded",
          "[vm][systemd]") {
  VmScenario s;
  // The job reports its own restrictions and cgroup, leaves a process behind, and fails.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'grep -E \"^(NoNewPrivs|Seccomp):\" /proc/self/status; "
                 "cat /proc/self/cgroup; (sleep 300 &); exit 3'\nworkdir = run\nuser = nobody\ntimeout = 60\nkill_grace = 5\n",
                 Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  std::string out = read_file(s.repo() / "run/stdout.log");
  INFO(out);
  // The agent's unit filters system calls; the job's unit does not, and only forbids new privileges.
  CHECK(out.find("NoNewPrivs:\t1\n") != std::string::npos);
  CHECK(out.find("Seccomp:\t0\n") != std::string::npos);
  CHECK(out.find("0::/system.slice/smartvm-job-") != std::string::npos);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::failed);
  CHECK(st->exit_code == 3);
  CHECK(st->containment == "systemd");
  CHECK(st->leftover_processes >= 1);
  CHECK(st->memory_peak_kib.value_or(0) > 0);
  CHECK(said(r, "process(es) of the job still running after it ended"));
}

TEST_CASE("vm: under systemd a job past its timeout is stopped through systemd and the VM powers off", "[vm][systemd]") {
  VmScenario s;
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c \"trap '' TERM; sleep 300\"\nworkdir = run\nuser = nobody\n"
                 "timeout = 3\nkill_grace = 1\n",
                 Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::timed_out);
  CHECK(st->signal == "SIGKILL");
  CHECK(st->containment == "systemd");
}

TEST_CASE("vm: a job killed by the OOM killer says so in its status", "[vm]") {
  VmScenario s;
  // Doubles a string until the guest's 384 MiB run out.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'awk \"BEGIN { s = \\\"x\\\"; while (1) s = s s }\"'\n"
                 "workdir = run\nuser = nobody\ntimeout = 120\n",
                 Repository::ninep);
  VmRun r = s.boot(Repository::ninep, 0, std::chrono::seconds(120));
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->oom_kills >= 1);
  CHECK(st->error.find("the OOM killer killed") == 0);
  CHECK(st->memory_peak_kib.value_or(0) > 100 * 1024);
}

TEST_CASE("vm: under systemd the agent reconnects when systemd re-executes itself while the job runs", "[vm][systemd]") {
  VmScenario s;
  // A root job re-executes systemd (as a package upgrade would): every connection to it drops.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'systemctl daemon-reexec; sleep 1; exit 4'\nworkdir = run\n"
                 "user = root\nallow_root = true\ntimeout = 60\n",
                 Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::failed);
  CHECK(st->exit_code == 4);
  CHECK(st->containment == "systemd");
  CHECK(said(r, "lost the connection to systemd while the job runs; reconnecting"));
}

TEST_CASE("vm: under systemd a VM shut down while the job runs records the job as cancelled", "[vm][systemd]") {
  VmScenario s;
  // The shutdown comes from inside (a root job asks for it); at shutdown systemd stops the
  // agent before the job's unit, and the agent stops the job itself and says why.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'systemctl --no-block poweroff; sleep 300'\nworkdir = run\n"
                 "user = root\nallow_root = true\ntimeout = 120\nkill_grace = 2\n",
                 Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  CHECK(r.qemu.exit_code == 0);
  auto st = s.status("run/exit_status");
  REQUIRE(st);
  CHECK(st->state == JobState::cancelled);
  CHECK(st->containment == "systemd");
  CHECK(st->error.find("the agent received SIGTERM") == 0);
  CHECK(said(r, "the agent was asked to stop: no power action of its own"));
}

TEST_CASE("vm: under systemd an agent that dies without its power action fails its unit, which powers the VM off",
          "[vm][systemd]") {
  VmScenario s;
  // A root job kills the agent outright (as a crash would) after noting that it ran; [power]
  // action none, so nothing but the unit's FailureAction= can end the VM.
  s.make_context("[job]\ncommand = /bin/sh\nargs = -c 'echo ran > killed-agent; "
                 "kill -KILL $(systemctl show -p MainPID --value smartvm-agent.service); sleep 300'\n"
                 "workdir = run\nuser = root\nallow_root = true\ntimeout = 120\nkill_grace = 2\n[power]\naction = none\n",
                 Repository::ninep);
  VmRun r = s.boot_systemd();
  INFO(r.serial());
  CHECK(!r.qemu.timed_out);
  CHECK(r.qemu.exit_code == 0);
  CHECK(read_file(s.repo() / "run/killed-agent") == "ran\n");
}
