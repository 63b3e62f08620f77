// smartvm-run against a private libvirtd (tests/support/libvirtd, under a subreaper) booting
// the tiny guest as a TCG domain: the real binary, a real catalog, the real agent in the guest
// sending its record over the status channel. Each run leaves nothing behind: no domain, no
// job directory (overlay, ISO, sockets).
#include "background_process.hpp"
#include "run_node.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <signal.h>
#include <unistd.h>

#include <filesystem>

using namespace smartvm;
using namespace smartvm::test;
namespace fs = std::filesystem;

namespace {

using Node = RunNode;

// Whether smartvm-run (pid) has printed `text` on its stdout so far (a file: run_process's).
bool printed(pid_t pid, const std::string& text) {
  std::error_code ec;
  fs::path out = fs::read_symlink("/proc/" + std::to_string(pid) + "/fd/1", ec);
  return !ec && read_file(out).find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("smartvm-run: a job's exit code, its setup failure and a guest that reboots, each from a real TCG domain",
          "[launcher]") {
  Node node;
  node.service("ok", "echo the job ran");
  node.service("three", "echo failing; exit 3");
  node.service("reboots", "reboot -f; sleep 60");
  // A setup failure that never reaches a repository: the host learns it over the channel.
  node.service("no-repo", "true", "[repository]\ntype = none\nmountpoint = /no/such/dir\n");

  ProcessResult ok = node.run("ok", "ok-1");
  INFO(ok.out << ok.err << node.log());
  StatusRecord rec = expect(ok, 0, JobState::succeeded);
  CHECK(rec.exit_code == 0);
  CHECK(rec.containment == "cgroup");  // the agent's record, not one the host made up
  // The console, line by line with the job's id, then the agent's record.
  CHECK(ok.out.find("ok-1: smartvm-agent: info:") != std::string::npos);
  CHECK(ok.out.find("ok-1: [") != std::string::npos);  // the kernel's power-down line
  // The guest powered itself off with its record sent: smartvm-run does not wait for a destroy;
  // libvirt removes the domain by itself (check_nothing_left waits a bound for it). A libvirtd
  // slowed down by the other tests on the machine may send its SHUTDOWN event after qemu has
  // already closed the console: then smartvm-run finds the domain gone by asking (seen once in
  // a ctest -j2 run, the event more than 216 ms late). Either way nothing is left.
  bool left_to_libvirt = ok.err.find("the domain left to libvirt, which removes it: the guest powered off") != std::string::npos;
  bool found_gone = ok.err.find("the domain ended (its console closed; libvirt sent no lifecycle event)") != std::string::npos;
  CHECK((left_to_libvirt || found_gone));
  node.check_nothing_left();

  ProcessResult three = node.run("three", "three-1");
  INFO(three.out << three.err);
  CHECK(expect(three, 3, JobState::failed).exit_code == 3);
  node.check_nothing_left();

  ProcessResult setup = node.run("no-repo", "setup-1");
  INFO(setup.out << setup.err);
  rec = expect(setup, 125, JobState::setup_failed);
  CHECK(rec.error == "prepare workdir: open the repository /no/such/dir: No such file or directory");
  CHECK(rec.agent_version != "");
  node.check_nothing_left();

  // on_reboot is destroy: the guest's reboot ends the domain, the job never runs twice, and a
  // domain that ended without a record is a failure, said so.
  ProcessResult reboots = node.run("reboots", "reboots-1");
  INFO(reboots.out << reboots.err);
  rec = expect(reboots, 125, JobState::failed);
  CHECK(rec.error.find("the domain ended without a status record") != std::string::npos);
  CHECK(reboots.out.find("reboots-1: smartvm-agent: info: [") != std::string::npos);
  size_t runs = 0;
  for (size_t at = 0; (at = reboots.out.find("agent starts at", at)) != std::string::npos; ++at) ++runs;
  CHECK(runs == 1);
  node.check_nothing_left();
}

TEST_CASE("smartvm-run: the host's wall time gives 124, SIGTERM a cancelled job, a job id in use is refused, "
          "and nothing is left", "[launcher]") {
  Node node;
  node.service("sleeper", "echo sleeping; sleep 300");

  // The guest ignores the ACPI power button (no acpid in it): destroyed after the grace.
  ProcessResult timed = node.run("sleeper", "wall-1", {"--time", "8"});
  INFO(timed.out << timed.err << node.log());
  StatusRecord rec = expect(timed, 124, JobState::timed_out);
  CHECK(rec.error.find("the wall time of 8 s ran out") != std::string::npos);
  CHECK(timed.seconds < 8 + 2 + 10);  // wall time, grace, and the create and clean-up
  node.check_nothing_left();

  ProcessResult second;
  bool signalled = false;
  ProcessResult cancelled = node.run("sleeper", "term-1", {}, [&](pid_t pid) {
    if (!printed(pid, "smartvm-agent: info: job started as pid")) return true;
    // While the job runs, the same job id again: refused, touching nothing of the first.
    second = run_process(node.run_args("sleeper", "term-1"));
    kill(pid, SIGTERM);
    signalled = true;
    return false;
  });
  INFO(cancelled.out << cancelled.err << second.out << second.err);
  REQUIRE(signalled);
  CHECK(second.exit_code == 126);
  CHECK(second.err.find("job term-1 exists on this node already") != std::string::npos);
  rec = expect(cancelled, 128 + SIGTERM, JobState::cancelled);
  CHECK(rec.error.find("smartvm-run got SIGTERM") != std::string::npos);
  CHECK(cancelled.err.find("got SIGTERM: shutting the domain down") != std::string::npos);
  node.check_nothing_left();
}

TEST_CASE("smartvm-run killed with SIGKILL: the real nodeld's next cycle destroys its domain and removes its files",
          "[launcher]") {
  Node node;
  node.service("sleeper", "echo sleeping; sleep 300");
  bool killed = false;
  ProcessResult r = node.run("sleeper", "kill-1", {}, [&](pid_t pid) {
    if (!printed(pid, "smartvm-agent: info: job started as pid")) return true;
    kill(pid, SIGKILL);
    killed = true;
    return false;
  });
  INFO(r.out << r.err);
  REQUIRE(killed);
  // What a killed smartvm-run leaves: its guest running, its files.
  virConnectPtr conn = virConnectOpen(node.uri().c_str());
  REQUIRE(conn);
  CHECK(virConnectNumOfDomains(conn) == 1);
  virConnectClose(conn);
  CHECK(fs::exists(fs::path(node.jobs()) / "kill-1" / "disk.qcow2"));

  // nodeld as a sysadmin runs it, on this node's libvirtd and runtime directory.
  fs::path ini = node.dir() / "nodeld.ini";
  write_file(ini, "[node]\nname = n1\nlibvirt_uri = " + node.uri() + "\ninterval = 1\n[ipoib]\nmode = off\n"
                  "[report]\nmetrics_listen =\n[throttle]\nenabled = false\n[jobs]\nruntime_dir = " + node.jobs() + "\n");
  BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", ini.string()}, (node.dir() / "nodeld.log").string());
  CHECK(nodeld.wait_for_log("job cleanup: removed " + node.jobs() + "/kill-1", nullptr, std::chrono::seconds(30)));
  std::string log = nodeld.log();
  INFO(log);
  CHECK(log.find("job cleanup: job kill-1 (sleeper, ") != std::string::npos);
  CHECK(log.find("destroyed domain smartvm-kill-1: its smartvm-run (pid ") != std::string::npos);
  CHECK(nodeld.stop() == 0);
  node.check_nothing_left();
}

namespace {

// A catalog in t/catalog with service "s" on an empty golden image t/base.qcow2, for runs that
// fail before a domain exists.
void write_offline_service(const TempDir& t) {
  fs::create_directories(t / "catalog");
  REQUIRE(run_process({"/usr/bin/qemu-img", "create", "-q", "-f", "qcow2", (t / "base.qcow2").string(), "64M"}).exit_code == 0);
  write_file(t / "catalog/s.ini", "[service]\nimage = " + (t / "base.qcow2").string() +
                                      "\nnetwork = none\n[job]\ncommand = /bin/true\nuser = nobody\n"
                                      "[repository]\ntype = none\n");
}

}  // namespace

TEST_CASE("smartvm-run: libvirtd down is a clear error and nothing is created", "[launcher]") {
  TempDir t;
  write_offline_service(t);
  std::string uri = "qemu+unix:///system?socket=" + (t / "no-libvirtd.sock").string();
  ProcessResult r = run_process({SMARTVM_RUN_PATH, "--catalog", (t / "catalog").string(), "--service", "s",
                                 "--runtime-dir", (t / "jobs").string(), "--connect", uri, "--job-id", "down-1"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 126);
  CHECK(r.err.find("smartvm-run: job down-1: cannot connect to libvirt at " + uri) != std::string::npos);
  CHECK(!fs::exists(t / "jobs"));
}

namespace {

// smartvm-run with its runtime directory on a tmpfs of `kib` KiB, mounted in a private mount
// namespace of its own (unshare: the host never sees it), against libvirt's in-process test
// driver (the failure comes before any domain). What is left on the tmpfs after smartvm-run
// (`find`, run in the same namespace) goes to t/left.
ProcessResult run_on_small_disk(const TempDir& t, size_t kib, const std::string& job_id) {
  fs::create_directories(t / "small");
  std::string run = std::string(SMARTVM_RUN_PATH) + " --catalog " + (t / "catalog").string() +
                    " --service s --runtime-dir " + (t / "small").string() + " --connect test:///default --job-id " + job_id;
  std::string script = "mount -t tmpfs -o size=" + std::to_string(kib) + "k tmpfs " + (t / "small").string() +
                       " || exit 99; " + run + "; rc=$?; find " + (t / "small").string() + " -mindepth 1 > " +
                       (t / "left").string() + "; exit $rc";
  return run_process({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script});
}

}  // namespace

TEST_CASE("smartvm-run: a full disk for the context ISO or the overlay is a clear error naming the file, and "
          "nothing is created", "[launcher]") {
  TempDir t;
  write_offline_service(t);
  // Room for the appliance.ini and nothing more: the ISO cannot be written.
  ProcessResult iso = run_on_small_disk(t, 16, "full-iso");
  INFO(iso.out << iso.err);
  CHECK(iso.exit_code == 125);  // setup failed on the host (DESIGN.md, the launcher contract)
  CHECK(iso.err.find("smartvm-run: job full-iso: setup failed on the host: ") != std::string::npos);
  CHECK(iso.err.find((t / "small/full-iso/context.iso").string()) != std::string::npos);
  CHECK(iso.err.find("domain smartvm-") == std::string::npos);  // no domain was created
  CHECK(read_file(t / "left") == "");

  // Room for the ISO (as smartvm-context makes it for such a job) but not for the overlay's
  // qcow2 header (~192 KiB): the overlay cannot be written.
  write_file(t / "appliance.ini", "[job]\ncommand = /bin/true\nuser = nobody\n[repository]\ntype = none\n");
  REQUIRE(run_process({SMARTVM_CONTEXT_TOOL, "build", "-o", (t / "sized.iso").string(), (t / "appliance.ini").string()})
              .exit_code == 0);
  size_t room_kib = fs::file_size(t / "sized.iso") / 1024 + 64;
  ProcessResult overlay = run_on_small_disk(t, room_kib, "full-overlay");
  INFO(overlay.out << overlay.err);
  CHECK(overlay.exit_code == 125);
  CHECK(overlay.err.find("smartvm-run: job full-overlay: setup failed on the host: create the overlay " +
                         (t / "small/full-overlay/disk.qcow2").string()) != std::string::npos);
  CHECK(overlay.err.find("No space left on device") != std::string::npos);
  CHECK(overlay.err.find("domain smartvm-") == std::string::npos);
  CHECK(read_file(t / "left") == "");
}

TEST_CASE("smartvm-run: two jobs at once on the node, each with its own domain, files and record", "[launcher]") {
  Node node;
  node.service("ok", "true");
  node.service("four", "exit 4");
  ProcessResult second;
  bool overlapped = false;
  ProcessResult first = node.run("ok", "two-a", {}, [&](pid_t pid) {
    if (!printed(pid, "two-a: smartvm-guest: init at")) return true;
    // The first guest is booting: the second job runs now, beside it.
    second = run_process(node.run_args("four", "two-b"));
    overlapped = true;
    return false;
  });
  INFO(first.out << first.err << second.out << second.err);
  REQUIRE(overlapped);
  CHECK(expect(first, 0, JobState::succeeded).exit_code == 0);
  CHECK(expect(second, 4, JobState::failed).exit_code == 4);
  CHECK(first.out.find("two-b:") == std::string::npos);  // each console on its own job's output
  CHECK(second.out.find("two-a:") == std::string::npos);
  node.check_nothing_left();
}

TEST_CASE("smartvm-run: a domain destroyed behind its back (its console and status channel close while the guest "
          "runs) is a failure without a record, and nothing is left", "[launcher]") {
  Node node;
  node.service("sleeper", "echo sleeping; sleep 300");
  ProcessResult destroy;
  ProcessResult gone = node.run("sleeper", "gone-1", {}, [&](pid_t pid) {
    if (!printed(pid, "smartvm-agent: info: job started as pid")) return true;
    // Somebody else's virsh: qemu goes, and with it the console and the channel.
    destroy = run_process({"/usr/bin/virsh", "-c", node.uri(), "destroy", "smartvm-gone-1"});
    return false;
  });
  INFO(gone.out << gone.err << destroy.out << destroy.err << node.log());
  CHECK(destroy.exit_code == 0);
  // Not the wall time (60 s, 124): the end is seen when the domain goes.
  StatusRecord rec = expect(gone, 125, JobState::failed);
  CHECK(rec.error.find("the domain ended without a status record") != std::string::npos);
  CHECK(!rec.exit_code);
  // However it was seen: libvirt's events (the destroy's SIGTERM makes qemu report a shutdown
  // from the host, then the domain stops), or the console's close and libvirt saying it is gone.
  CHECK((gone.err.find("qemu was stopped from the host") != std::string::npos ||
         gone.err.find("the domain was destroyed") != std::string::npos ||
         gone.err.find("its console closed") != std::string::npos));
  // Not taken for a guest that powered itself off: smartvm-run destroyed (what was left of) it.
  CHECK(gone.err.find("the domain and the files gone") != std::string::npos);
  CHECK(gone.err.find("exit status 125") != std::string::npos);
  node.check_nothing_left();
}
