// Jobs whose smartvm-run is gone: the plan (pure), then the real thing on libvirt's test driver
// in process, with real processes standing for smartvm-run (copies of sleep
// under a name of their own, which the reaper is told), one killed before the pass, and a real runtime directory; and the
// daemon, which cleans up when it acts and leaves everything in --once.
#include "background_process.hpp"
#include "catch_result.hpp"
#include "daemon.hpp"
#include "host_processes.hpp"
#include "job_reaper.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <filesystem>
#include <thread>

#include <unistd.h>

using namespace smartvm;
using namespace smartvm::nodeld;
namespace fs = std::filesystem;

namespace {

JobDomainRef job(const std::string& id, int64_t pid, std::vector<std::string> files = {}) {
  JobDomainRef d;
  d.name = "smartvm-" + id;
  d.uuid = "u-" + id;
  d.job = JobMetadata{"blast", id, "alice", pid};
  d.file_sources = std::move(files);
  return d;
}

std::vector<std::string> names(const std::vector<OrphanJob>& orphans) {
  std::vector<std::string> out;
  for (const OrphanJob& o : orphans) out.push_back(o.domain.job.job_id);
  return out;
}

// A test-driver job domain as smartvm-run makes it, its files in `dir`.
std::string job_domain_xml(const std::string& job_id, pid_t launcher, const std::string& dir) {
  return "<domain type='test'><name>smartvm-" + job_id + "</name><metadata><smartvm:job xmlns:smartvm='" +
         kJobMetadataNamespace + "'><smartvm:service>blast</smartvm:service><smartvm:job_id>" + job_id +
         "</smartvm:job_id><smartvm:owner>alice</smartvm:owner><smartvm:launcher_pid>" + std::to_string(launcher) +
         "</smartvm:launcher_pid></smartvm:job></metadata><memory>262144</memory><vcpu>1</vcpu><os><type>hvm</type>"
         "</os><devices><disk type='file' device='disk'><source file='" + dir + "/disk.qcow2'/><target dev='vda'/>"
         "</disk><disk type='file' device='cdrom'><source file='" + dir + "/context.iso'/><target dev='hdc'/></disk>"
         "</devices></domain>";
}

// A job's directory with its files, as smartvm-run leaves it.
fs::path job_dir(const fs::path& dir) {
  fs::create_directories(dir);
  test::write_file(dir / "disk.qcow2", "overlay");
  test::write_file(dir / "context.iso", "iso");
  return dir;
}

// What the test's launchers are called: not smartvm-run, whose real instances other work on
// this machine may be running (the reaper is told this name instead).
// The name the stand-in launchers run under, this test process's own: under ctest -j2 another
// test's live stand-in, with no domain in this process's test driver, would count as a
// launcher still making its directory and keep the leftover here (seen once in 280 runs).
const std::string kFakeComm = "svrun-" + std::to_string(getpid());

// A process standing for smartvm-run: a copy of sleep under the launchers' name.
struct FakeLauncher {
  // Returns once the child runs the copy (a signal before its exec would reach a copy of
  // this test binary, whose Catch handler reports it as a failure).
  FakeLauncher(const fs::path& dir, const std::string& name = kFakeComm)
      : process({(dir / name).string(), "300"}, (dir / (name + ".log")).string()) {
    REQUIRE(test::wait_for_comm(process.pid(), name));
  }
  static fs::path install(const fs::path& dir, const std::string& name = kFakeComm) {
    fs::copy_file("/bin/sleep", dir / name, fs::copy_options::overwrite_existing);
    return dir / name;
  }
  test::BackgroundProcess process;
};

bool domain_exists(virConnectPtr conn, const std::string& name) {
  virDomainPtr d = virDomainLookupByName(conn, name.c_str());
  if (!d) return false;
  virDomainFree(d);
  return true;
}

// Destroys what a failed test may leave in test:///default (shared by the whole binary).
struct Domains {
  virConnectPtr conn = virConnectOpen("test:///default");
  std::vector<std::string> created;
  ~Domains() {
    for (const std::string& name : created)
      if (virDomainPtr d = virDomainLookupByName(conn, name.c_str())) {
        virDomainDestroy(d);
        virDomainFree(d);
      }
    virConnectClose(conn);
  }
  void create(const std::string& xml, const std::string& name) {
    virDomainPtr d = virDomainCreateXML(conn, xml.c_str(), 0);
    REQUIRE(d);
    virDomainFree(d);
    created.push_back(name);
  }
};

}  // namespace

TEST_CASE("job cleanup: a job whose smartvm-run is gone or whose pid was reused is an orphan", "[nodeld][jobs]") {
  CleanupView v;
  v.runtime_dir = "/run/smartvm/jobs";
  v.directories = {"gone", "reused", "live", "nopid", "left", "off"};
  v.processes = {{10, "smartvm-run"}, {11, "bash"}};
  JobDomainRef off = job("off", 99, {"/run/smartvm/jobs/off/disk.qcow2"});
  off.active = false;
  v.domains = {job("gone", 99, {"/run/smartvm/jobs/gone/disk.qcow2"}), job("reused", 11, {"/run/smartvm/jobs/reused/disk.qcow2"}),
               job("live", 10, {"/run/smartvm/jobs/live/disk.qcow2"}), job("nopid", 0), off};
  CleanupPlan p = plan_job_cleanup(v);
  CHECK(names(p.orphans) == std::vector<std::string>{"gone", "reused"});
  CHECK(p.orphans[0].directories == std::vector<std::string>{"/run/smartvm/jobs/gone"});
  CHECK(p.orphans[0].reason == "its smartvm-run (pid 99) is gone");
  CHECK(p.orphans[1].reason.find("bash's now") != std::string::npos);
  // Used by a live job, a job without a launcher pid, a shut-off domain: not leftovers.
  CHECK(p.leftovers == std::vector<std::string>{"/run/smartvm/jobs/left"});

  // A launcher that exists but /proc hides (another user's, under hidepid) is alive; while
  // nodeld cannot see every process, no directory is a leftover.
  v.hidden = {99};
  CHECK(names(plan_job_cleanup(v).orphans) == std::vector<std::string>{"reused"});
  v.hidden.clear();
  v.all_visible = false;
  CHECK(plan_job_cleanup(v).leftovers.empty());
  v.all_visible = true;

  // A smartvm-run with no domain may be making its directory: no leftover while it lives.
  v.processes[12] = "smartvm-run";
  CHECK(plan_job_cleanup(v).leftovers.empty());
  CHECK(names(plan_job_cleanup(v).orphans) == std::vector<std::string>{"gone", "reused"});
}

TEST_CASE("job cleanup: /proc mounted with hidepid does not show every process", "[nodeld][jobs]") {
  test::TempDir t;
  fs::path proc = t / "proc";
  fs::create_directories(proc / "self");
  auto mountinfo = [&](const std::string& super) {
    test::write_file(proc / "self" / "mountinfo", "21 26 0:20 / /sys rw - sysfs sysfs rw\n"
                                                  "22 26 0:21 / " + proc.string() + " rw,nosuid - proc proc " + super + "\n");
  };
  mountinfo("rw");
  CHECK(all_processes_visible(proc.string()));
  mountinfo("rw,hidepid=invisible");
  CHECK(!all_processes_visible(proc.string()));
  mountinfo("rw,hidepid=2,subset=pid");
  CHECK(!all_processes_visible(proc.string()));
  mountinfo("rw,hidepid=off");
  CHECK(all_processes_visible(proc.string()));
  fs::remove(proc / "self" / "mountinfo");
  CHECK(!all_processes_visible(proc.string()));  // cannot tell: not every process
  CHECK(process_exists(getpid()));
  CHECK(process_exists(1));
  CHECK(!process_exists(0));
}

TEST_CASE("job cleanup: only directories directly in the runtime directory are ever named", "[nodeld][jobs]") {
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobs/j1/disk.qcow2") == "j1");
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobs/j1") == "j1");
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobs/../etc/passwd") == "");
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobs/j1/../../x/disk") == "");
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobsx/j1/disk") == "");
  CHECK(job_directory_name("/run/smartvm/jobs", "/var/lib/images/golden.qcow2") == "");
  CHECK(job_directory_name("/run/smartvm/jobs", "/run/smartvm/jobs") == "");

  CleanupView v;
  v.runtime_dir = "/run/smartvm/jobs";
  v.directories = {"j1"};
  // Its files elsewhere and a job id that climbs out: the orphan is destroyed, no directory named.
  v.domains = {job("../../etc", 5, {"/srv/images/../../run/smartvm/jobs/../x/disk.qcow2", "/tmp/j1/disk.qcow2"})};
  CleanupPlan p = plan_job_cleanup(v);
  REQUIRE(p.orphans.size() == 1);
  CHECK(p.orphans[0].directories.empty());
  CHECK(p.leftovers == std::vector<std::string>{"/run/smartvm/jobs/j1"});
}

TEST_CASE("job cleanup: on the test driver, a killed launcher's job goes and a live one's stays", "[nodeld][jobs][libvirt]") {
  test::TempDir t;
  fs::path runtime = t / "jobs";
  fs::path outside = t / "outside";
  FakeLauncher::install(t.path());
  FakeLauncher::install(t.path(), "sleep");
  Domains domains;
  REQUIRE(domains.conn);

  // The launcher of jdead, started and killed: its pid is recorded in the domain.
  pid_t dead_pid;
  {
    FakeLauncher dead(t.path());
    dead_pid = dead.process.pid();
    dead.process.stop();
  }
  FakeLauncher live(t.path());
  FakeLauncher other(t.path(), "sleep");  // a live process that is not smartvm-run: a reused pid

  job_dir(runtime / "jdead");
  job_dir(runtime / "jlive");
  job_dir(runtime / "jreused");
  job_dir(runtime / "jleft");     // smartvm-run SIGKILLed after its domain went
  job_dir(outside / "jout");      // a job whose files are not in the runtime directory
  fs::create_directory_symlink(outside, runtime / "link");  // never followed
  domains.create(job_domain_xml("jdead", dead_pid, (runtime / "jdead").string()), "smartvm-jdead");
  domains.create(job_domain_xml("jlive", live.process.pid(), (runtime / "jlive").string()), "smartvm-jlive");
  domains.create(job_domain_xml("jreused", other.process.pid(), (runtime / "jreused").string()), "smartvm-jreused");
  domains.create(job_domain_xml("jout", dead_pid, (outside / "jout").string()), "smartvm-jout");

  std::vector<JobDomainRef> refs;
  for (const char* id : {"jdead", "jlive", "jreused", "jout"}) {
    virDomainPtr d = virDomainLookupByName(domains.conn, ("smartvm-" + std::string(id)).c_str());
    REQUIRE(d);
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainGetUUIDString(d, uuid);
    char* xml = virDomainGetXMLDesc(d, 0);
    auto facts = domain_facts_from_xml(xml);
    free(xml);
    virDomainFree(d);
    REQUIRE(facts);
    REQUIRE(facts->job);
    refs.push_back(JobDomainRef{"smartvm-" + std::string(id), uuid, true, *facts->job, facts->file_sources});
  }

  LibvirtConnection connection("test:///default", [](const DomainEvent&) {});
  CleanupOutcome out = clean_up_jobs(connection, CleanupSettings{runtime.string(), "/proc", kFakeComm}, refs);
  INFO(out.problems.size());
  for (const std::string& p : out.problems) UNSCOPED_INFO(p);
  CHECK(out.problems.empty());
  CHECK(out.cleaned == 4);  // jdead, jreused, jout destroyed; jleft removed

  CHECK(!domain_exists(domains.conn, "smartvm-jdead"));
  CHECK(!fs::exists(runtime / "jdead"));
  CHECK(!domain_exists(domains.conn, "smartvm-jreused"));
  CHECK(!fs::exists(runtime / "jreused"));
  CHECK(!fs::exists(runtime / "jleft"));
  // The live launcher's job is untouched, and nothing outside the runtime directory is.
  CHECK(domain_exists(domains.conn, "smartvm-jlive"));
  CHECK(fs::exists(runtime / "jlive" / "disk.qcow2"));
  CHECK(!domain_exists(domains.conn, "smartvm-jout"));
  CHECK(fs::exists(outside / "jout" / "disk.qcow2"));
  CHECK(fs::is_symlink(runtime / "link"));
  CHECK(std::count_if(out.done.begin(), out.done.end(),
                      [](const std::string& l) { return l.find("destroyed domain smartvm-jdead") != std::string::npos; }) == 1);
  live.process.stop();
  other.process.stop();
}

namespace {

// A daemon on test:///default that neither listens nor routes, as --once runs it but `act`.
NodeldConfig daemon_config(const fs::path& runtime) {
  NodeldConfig c;
  c.name = "n1";
  c.libvirt_uri = "test:///default";
  c.metrics_listen = "";
  c.ipoib_mode = IpoibMode::off;
  c.jobs_runtime_dir = runtime.string();
  return c;
}

std::string metrics_of(Daemon& d) {
  HttpRequest req(boost::beast::http::verb::get, "/metrics", 11);
  return static_cast<HttpHandler&>(d).handle(req, 0).body();
}

}  // namespace

TEST_CASE("job cleanup: nodeld cleans up when it acts, and leaves everything in --once", "[nodeld][jobs][daemon]") {
  test::TempDir t;
  fs::path runtime = t / "jobs";
  FakeLauncher::install(t.path());
  pid_t dead_pid;
  {
    FakeLauncher dead(t.path());
    dead_pid = dead.process.pid();
    dead.process.stop();
  }
  job_dir(runtime / "jdaemon");
  Domains domains;
  domains.create(job_domain_xml("jdaemon", dead_pid, (runtime / "jdaemon").string()), "smartvm-jdaemon");

  auto run = [&](bool act) {
    boost::asio::io_context io;
    DaemonOptions options;
    options.control_bus = false;
    options.act = act;
    Daemon daemon(io, daemon_config(runtime), options);
    bool reported = false;
    daemon.collect_once([&](const std::string&) { reported = true; });
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    // The cleanup's answer comes from its worker after the report: wait for it when acting.
    while (std::chrono::steady_clock::now() < until &&
           (!reported || (act && metrics_of(daemon).find("smartvm_jobs_cleaned_total{node=\"n1\"} 1") == std::string::npos))) {
      io.restart();
      io.run_for(std::chrono::milliseconds(20));
      if (io.stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(reported);
    std::string metrics = metrics_of(daemon);
    while (daemon.sources_busy()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return metrics;
  };

  std::string once = run(false);
  CHECK(domain_exists(domains.conn, "smartvm-jdaemon"));
  CHECK(fs::exists(runtime / "jdaemon" / "disk.qcow2"));
  CHECK(once.find("smartvm_job_info{job_id=\"jdaemon\"") != std::string::npos);
  CHECK(once.find("smartvm_jobs_cleaned_total") == std::string::npos);

  std::string acting = run(true);
  CHECK(acting.find("smartvm_jobs_cleaned_total{node=\"n1\"} 1\n") != std::string::npos);
  CHECK(!domain_exists(domains.conn, "smartvm-jdaemon"));
  CHECK(!fs::exists(runtime / "jdaemon"));
}
