// Smart-VM jobs scheduled by a real single-node Slurm (tests/support/slurm_cluster) onto the
// private libvirtd of the launcher tests (run_node), booting the tiny guest under TCG: each job
// is a batch script that execs smartvm-run, as examples/slurm/smartvm-job.sbatch does. Slurm's
// view (scontrol, the job completion log) and the VM's (the record on the job's output file,
// the live domain) must agree, and nothing is left: every job cancelled, the daemons stopped
// by PID, every domain destroyed, even when a check failed.
#include "run_node.hpp"
#include "slurm_cluster.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

using namespace smartvm;
using namespace smartvm::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

template <class Predicate>
bool eventually(Predicate p, std::chrono::milliseconds limit) {
  for (auto until = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(200ms))
    if (p()) return true;
  return p();
}

class SlurmVmNode {
 public:
  explicit SlurmVmNode(SlurmCluster::Options options = {}) : slurm_(node_.dir(), options) {
    bool up = slurm_.start();
    INFO(slurm_.logs());
    REQUIRE(up);
  }
  // Jobs still there (a check failed) are cancelled and awaited before Slurm stops: slurmd's
  // stop leaves its job steps running. Then Slurm stops, then the node destroys any domain.
  ~SlurmVmNode() {
    ProcessResult q = slurm_.client({"/usr/bin/squeue", "-h", "-o", "%A"});
    std::istringstream ids(q.out);
    for (std::string id; ids >> id;) {
      slurm_.client({"/usr/bin/scancel", id});
      slurm_.wait_for_end(id, 30s);
    }
  }
  SlurmVmNode(const SlurmVmNode&) = delete;
  SlurmVmNode& operator=(const SlurmVmNode&) = delete;

  RunNode& node() { return node_; }
  SlurmCluster& slurm() { return slurm_; }

  // sbatch's a script that execs smartvm-run for `service`: one core and 256 MiB unless
  // `options` say otherwise; its output in out.ID.
  std::string submit(const std::string& service, std::vector<std::string> options = {"-c", "1", "--mem", "256"},
                     const std::vector<std::string>& launcher_options = {}) {
    fs::path script = node_.dir() / ("job-" + service + ".sh");
    std::string line = "exec";
    for (const std::string& a : node_.run_args(service, "")) line += " " + a;
    for (const std::string& a : launcher_options) line += " " + a;
    write_file(script, "#!/bin/sh\n" + line + "\n");
    chmod(script.c_str(), 0755);
    options.insert(options.end(), {"-J", service, "-o", (node_.dir() / "out.%j").string(), "-e",
                                (node_.dir() / "err.%j").string(), script.string()});
    std::string why;
    auto id = slurm_.submit(options, &why);
    INFO(why);
    REQUIRE(id);
    return *id;
  }

  // The job's stdout (the guest's console, then the record) and stderr (smartvm-run's own words).
  std::string output(const std::string& id, const char* which = "out") const {
    fs::path p = node_.dir() / (std::string(which) + "." + id);
    return fs::exists(p) ? read_file(p) : "";
  }
  std::string errors(const std::string& id) const { return output(id, "err"); }

  // smartvm-run is done with the job: its last line says its exit status.
  bool launcher_done(const std::string& id) const { return errors(id).find("; exit status ") != std::string::npos; }

  // The live domain of Slurm job `id`: its XML, or "" when there is none.
  std::string domain_xml(const std::string& id) const { return with_domain(id, [](virDomainPtr d) {
      char* xml = virDomainGetXMLDesc(d, 0);
      std::string s = xml ? xml : "";
      free(xml);
      return s;
    });
  }

  bool domain_paused(const std::string& id) const {
    return with_domain(id, [](virDomainPtr d) {
             int state = 0, reason = 0;
             return virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED ? std::string("y") : "";
           }) == "y";
  }

 private:
  template <class F>
  std::string with_domain(const std::string& id, F f) const {
    virConnectPtr conn = virConnectOpen(node_.uri().c_str());
    if (!conn) return "";
    std::string out;
    if (virDomainPtr d = virDomainLookupByName(conn, ("smartvm-slurm-" + id).c_str())) {
      out = f(d);
      virDomainFree(d);
    }
    virConnectClose(conn);
    return out;
  }

  RunNode node_;
  SlurmCluster slurm_;
};

std::string pinned_cpus(const std::string& xml) {
  std::smatch m;
  return std::regex_search(xml, m, std::regex("<vcpu[^>]*cpuset='([^']*)'")) ? m[1].str() : "";
}

// The job completion log's line for job `id`.
std::string completion_of(const SlurmCluster& slurm, const std::string& id) {
  std::istringstream lines(slurm.completion_log());
  for (std::string line; std::getline(lines, line);)
    if (line.find("JobId=" + id + " ") != std::string::npos) return line;
  return "";
}

}  // namespace

TEST_CASE("slurm: two one-core smart-VM jobs at once, each pinned to its own CPU: COMPLETED, and FAILED with the "
          "job's exit code", "[launcher][slurm]") {
  SlurmVmNode n;
  n.node().service("ok", "sleep 3; echo the job ran");
  n.node().service("three", "sleep 3; exit 3");
  std::string ok = n.submit("ok"), three = n.submit("three");
  std::string ok_cpus, three_cpus;
  bool both = eventually(
      [&] {
        ok_cpus = pinned_cpus(n.domain_xml(ok));
        three_cpus = pinned_cpus(n.domain_xml(three));
        return !ok_cpus.empty() && !three_cpus.empty();
      },
      60s);
  INFO(n.output(ok) << n.output(three) << n.node().log());
  REQUIRE(both);
  CHECK(ok_cpus != three_cpus);
  CHECK((ok_cpus == "0" || ok_cpus == "1"));
  CHECK((three_cpus == "0" || three_cpus == "1"));

  CHECK(n.slurm().wait_for_end(ok, 90s) == "COMPLETED");
  CHECK(n.slurm().wait_for_end(three, 90s) == "FAILED");
  CHECK(n.slurm().job(three)["ExitCode"] == "3:0");
  CHECK(n.slurm().job(ok)["ExitCode"] == "0:0");
  CHECK(completion_of(n.slurm(), ok).find("JobState=COMPLETED") != std::string::npos);
  std::string failed = completion_of(n.slurm(), three);
  CHECK(failed.find("JobState=FAILED") != std::string::npos);
  CHECK(failed.find("ExitCode=3:0") != std::string::npos);
  // The output file: the console with Slurm's job id, then the agent's record.
  REQUIRE(eventually([&] { return n.launcher_done(ok) && n.launcher_done(three); }, 10s));
  std::string out = n.output(ok);
  INFO(out);
  CHECK(out.find("slurm-" + ok + ": smartvm-agent: info:") != std::string::npos);
  auto rec = record_in(out);
  REQUIRE(rec);
  CHECK(rec->state == JobState::succeeded);
  rec = record_in(n.output(three));
  REQUIRE(rec);
  CHECK(rec->state == JobState::failed);
  CHECK(rec->exit_code == 3);
  INFO(n.errors(ok) << n.errors(three));
  n.node().check_nothing_left();
}

TEST_CASE("slurm: a request larger than the allocation is refused before anything is made", "[launcher][slurm]") {
  SlurmVmNode n;
  n.node().service("ok", "true");
  fs::path script = n.node().dir() / "big.sh";
  std::string line = "exec";
  for (const std::string& a : n.node().run_args("ok", "")) line += " " + a;
  write_file(script, "#!/bin/sh\n" + line + " --memory 200M\n");
  chmod(script.c_str(), 0755);
  auto id = n.slurm().submit({"-c", "1", "--mem", "100", "-o", (n.node().dir() / "err.%j").string(), script.string()});
  REQUIRE(id);
  CHECK(n.slurm().wait_for_end(*id, 60s) == "FAILED");
  CHECK(n.slurm().job(*id)["ExitCode"] == "126:0");
  CHECK(n.output(*id, "err").find("--memory 200M is more than the Slurm job's 100M (ask Slurm for more with --mem)") !=
        std::string::npos);
  n.node().check_nothing_left();
}

namespace {

// Slurm stopped job `id` (scancel, the time limit): its final `state`, smartvm-run's orderly
// shutdown on the SIGTERM, the record `recorded` (cancelled, or timed_out for the time limit)
// with smartvm-run's exit status to match, nothing left.
void expect_stopped(SlurmVmNode& n, const std::string& id, const std::string& state, JobState recorded,
                    std::chrono::seconds limit) {
  CHECK(n.slurm().wait_for_end(id, limit) == state);
  REQUIRE(eventually([&] { return n.launcher_done(id); }, 20s));
  std::string out = n.output(id), err = n.errors(id);
  INFO(out << err);
  CHECK(err.find("got SIGTERM: shutting the domain down") != std::string::npos);
  bool time_limit = recorded == JobState::timed_out;
  // Slurm answered smartvm-run's question, either way.
  CHECK(err.find(time_limit ? "the SIGTERM was the Slurm job's time limit" : "the SIGTERM was not the Slurm job's time limit") !=
        std::string::npos);
  CHECK(err.find(time_limit ? "; exit status 124" : "; exit status 143") != std::string::npos);
  auto rec = record_in(out);
  REQUIRE(rec);
  CHECK(rec->state == recorded);
  n.node().check_nothing_left();
}

void scancel_while_running(SlurmVmNode& n) {
  n.node().service("sleeper", "echo sleeping; sleep 300");
  std::string id = n.submit("sleeper");
  REQUIRE(eventually([&] { return n.output(id).find("smartvm-agent: info: job started as pid") != std::string::npos; },
                     90s));
  n.slurm().client({"/usr/bin/scancel", id});
  expect_stopped(n, id, "CANCELLED", JobState::cancelled, 30s);
}

}  // namespace

TEST_CASE("slurm: scancel while the job runs: CANCELLED, the record says cancelled, nothing left",
          "[launcher][slurm]") {
  SlurmVmNode n;
  scancel_while_running(n);
}

TEST_CASE("slurm: the job's time limit: TIMEOUT, an orderly shutdown, the record says timed_out, nothing left",
          "[launcher][slurm]") {
  // Slurm's SIGTERM is the same as scancel's: smartvm-run asks slurmctld (Reason=TimeLimit) and
  // records timed_out, exit status 124; Slurm's own state stays TIMEOUT.
  SlurmVmNode n;
  n.node().service("sleeper", "echo sleeping; sleep 300");
  // The service's own wall time (60 s) would act first (exit 124, FAILED): Slurm's limit must.
  fs::path ini = n.node().dir() / "catalog/sleeper.ini";
  write_file(ini, std::regex_replace(read_file(ini), std::regex("wall_time = 60"), "wall_time = 300"));
  // -t 1: Slurm acts 60-90 s after the start (it checks limits every 30 s; 73-86 s in TESTBED.md):
  // SIGCONT, SIGTERM, SIGKILL after KillWait.
  std::string id = n.submit("sleeper", {"-c", "1", "--mem", "256", "-t", "1"});
  expect_stopped(n, id, "TIMEOUT", JobState::timed_out, 150s);
}

namespace {

// Submits a job and suspends it once its guest runs the job, checks its domain stays paused for `pause`
// (past Slurm's SIGSTOP), resumes it, and checks it completes with its record; smartvm-run's
// account of it.
std::string suspend_and_resume(SlurmVmNode& n, std::chrono::seconds pause, std::vector<std::string> launcher_options = {}) {
  n.node().service("napper", "echo napping; sleep 6; echo woke");
  std::string id = n.submit("napper", {"-c", "1", "--mem", "256"}, launcher_options);
  REQUIRE(eventually([&] { return n.output(id).find("smartvm-agent: info: job started as pid") != std::string::npos; },
                     90s));
  REQUIRE(n.slurm().client({"/usr/bin/scontrol", "suspend", id}).exit_code == 0);
  INFO(n.errors(id));
  CHECK(eventually([&] { return n.domain_paused(id); }, 10s));
  // Past Slurm's SIGSTOP (about 2 s after the TSTP): still paused, the job SUSPENDED.
  std::this_thread::sleep_for(pause);
  CHECK(n.domain_paused(id));
  CHECK(n.slurm().job(id)["JobState"] == "SUSPENDED");
  REQUIRE(n.slurm().client({"/usr/bin/scontrol", "resume", id}).exit_code == 0);
  CHECK(n.slurm().wait_for_end(id, 90s) == "COMPLETED");
  REQUIRE(eventually([&] { return n.launcher_done(id); }, 10s));
  std::string out = n.output(id), err = n.errors(id);
  INFO(out << err);
  CHECK(err.find("got SIGTSTP: domain suspended") != std::string::npos);
  CHECK(err.find("got SIGCONT: domain resumed after") != std::string::npos);
  auto rec = record_in(out);
  REQUIRE(rec);
  CHECK(rec->state == JobState::succeeded);
  n.node().check_nothing_left();
  return err;
}

}  // namespace

TEST_CASE("slurm: scontrol suspend pauses the domain, resume lets it finish", "[launcher][slurm]") {
  SlurmVmNode n;
  suspend_and_resume(n, 4s);
}

TEST_CASE("slurm: a suspension longer than libvirt's keepalives (40 s) still resumes the job", "[launcher][slurm]") {
  SlurmVmNode n;
  // libvirtd drops a client that answers no keepalives for 30 s (5 x 5 s): smartvm-run, stopped
  // by Slurm, connects again and resumes the domain it finds by name. The wall time (40 s,
  // ~25 s of which the job runs) does not count the suspension.
  CHECK(suspend_and_resume(n, 40s, {"--time", "40"}).find("connecting to libvirt again") != std::string::npos);
}

// With proctrack/cgroup Slurm suspends with the freezer instead of SIGSTOP, and sends scancel's
// SIGTERM to the batch shell's direct children only: the exec'd smartvm-run.
TEST_CASE("slurm: under proctrack/cgroup, suspend and resume, then scancel", "[launcher][slurm]") {
  SlurmCluster::Options cgroup;
  cgroup.cgroup = true;
  SlurmVmNode n(cgroup);
  suspend_and_resume(n, 4s);
  scancel_while_running(n);
}
