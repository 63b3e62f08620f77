// Jobs whose smartvm-run is gone: the plan (pure); the locks (real flock(2) held by real
// processes); then the real thing on libvirt's test driver in process, with forked processes
// standing for smartvm-run (each holds its job directory's lock, as smartvm-run does), one
// killed before the pass, and a real runtime directory; and the daemon, which cleans up when it
// acts and leaves everything in --once.
#include "catch_result.hpp"
#include "daemon.hpp"
#include "job_files.hpp"
#include "job_locks.hpp"
#include "job_reaper.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

using namespace smartvm;
using namespace smartvm::nodeld;
namespace fs = std::filesystem;

namespace {

JobDomainRef job(const std::string& id, int64_t pid, std::vector<std::string> files = {}) {
  JobDomainRef d;
  d.name = "smartvm-" + id;
  d.uuid = "u-" + id;
  d.job = JobMetadata{"blast", id, "alice", pid, "/run/smartvm/jobs/" + id};
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
         "</smartvm:launcher_pid><smartvm:job_dir>" + dir + "</smartvm:job_dir></smartvm:job></metadata>"
         "<memory>262144</memory><vcpu>1</vcpu><os><type>hvm</type>"
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

// A process standing for smartvm-run: a child that holds `dir`'s lock until it is killed, as
// smartvm-run holds its job directory's. Between fork and kill it makes only system calls
// (the test process has libvirt's threads).
class FakeLauncher {
 public:
  explicit FakeLauncher(const fs::path& dir) {
    std::string path = dir.string();
    int ready[2];
    REQUIRE(pipe2(ready, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY);
      char ok = fd >= 0 && flock(fd, LOCK_EX) == 0 ? 'y' : 'n';
      (void)!write(ready[1], &ok, 1);
      for (;;) pause();
    }
    close(ready[1]);
    char ok = 0;
    (void)!read(ready[0], &ok, 1);
    close(ready[0]);
    REQUIRE(ok == 'y');
  }
  FakeLauncher(const FakeLauncher&) = delete;
  FakeLauncher& operator=(const FakeLauncher&) = delete;
  ~FakeLauncher() { kill(); }
  pid_t pid() const { return pid_; }
  // SIGKILL, as smartvm-run may die: the kernel lets its lock go.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// Whether some other open file description could lock `dir` now.
bool lockable(const fs::path& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  bool ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return ok;
}

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

TEST_CASE("job cleanup: a job whose directory nobody holds, or that is gone, is an orphan", "[nodeld][jobs]") {
  CleanupView v;
  v.runtime_dir = "/run/smartvm/jobs";
  v.directories = {"gone", "live", "unknown", "left", "making", "off"};
  JobDomainRef off = job("off", 99, {"/run/smartvm/jobs/off/disk.qcow2"});
  off.active = false;
  JobDomainRef nodir = job("nodir", 7);
  nodir.job.job_dir.clear();  // not marked with its directory: not judged
  v.domains = {job("gone", 99, {"/run/smartvm/jobs/gone/disk.qcow2"}), job("ended", 98),
               job("live", 10, {"/run/smartvm/jobs/live/disk.qcow2"}), job("unknown", 11), nodir, off};
  CHECK(directories_to_probe(v) ==
        std::set<std::string>{"/run/smartvm/jobs/ended", "/run/smartvm/jobs/gone", "/run/smartvm/jobs/left",
                              "/run/smartvm/jobs/live", "/run/smartvm/jobs/making", "/run/smartvm/jobs/off",
                              "/run/smartvm/jobs/unknown"});
  v.locks = {{"/run/smartvm/jobs/gone", DirLock::taken},   {"/run/smartvm/jobs/ended", DirLock::missing},
             {"/run/smartvm/jobs/live", DirLock::held},    {"/run/smartvm/jobs/unknown", DirLock::unknown},
             {"/run/smartvm/jobs/left", DirLock::taken},   {"/run/smartvm/jobs/making", DirLock::held},
             {"/run/smartvm/jobs/off", DirLock::taken}};
  CleanupPlan p = plan_job_cleanup(v);
  CHECK(names(p.orphans) == std::vector<std::string>{"gone"});
  CHECK(p.orphans[0].directories == std::vector<std::string>{"/run/smartvm/jobs/gone"});
  CHECK(p.orphans[0].reason == "its smartvm-run (pid 99) no longer holds /run/smartvm/jobs/gone");
  CHECK(p.ending == std::set<std::string>{"u-ended"});  // left alone one pass
  v.ending_before = p.ending;
  p = plan_job_cleanup(v);
  CHECK(names(p.orphans) == std::vector<std::string>{"gone", "ended"});
  CHECK(p.orphans[1].directories.empty());
  CHECK(p.orphans[1].reason == "its smartvm-run (pid 98) has ended and /run/smartvm/jobs/ended is gone");
  // Used by a live job, a job that cannot be told, a shut-off domain, or held by a smartvm-run
  // making it: not leftovers.
  CHECK(p.leftovers == std::vector<std::string>{"/run/smartvm/jobs/left"});

  // A lock nobody tried counts as unknown: nothing is done on its account.
  v.locks.erase("/run/smartvm/jobs/gone");
  v.locks.erase("/run/smartvm/jobs/left");
  p = plan_job_cleanup(v);
  CHECK(names(p.orphans) == std::vector<std::string>{"ended"});
  CHECK(p.leftovers.empty());

  // An orphan's directory that a new smartvm-run holds (a new job under the same id) stays.
  v.locks["/run/smartvm/jobs/gone"] = DirLock::missing;
  v.domains = {job("gone", 99, {"/run/smartvm/jobs/making/disk.qcow2"})};
  v.ending_before = {"u-gone"};  // its directory was gone a pass ago already
  p = plan_job_cleanup(v);
  REQUIRE(p.orphans.size() == 1);
  CHECK(p.orphans[0].directories.empty());
}

TEST_CASE("job cleanup: a running job domain whose directory is gone is left alone for one pass", "[nodeld][jobs]") {
  CleanupView v;
  v.runtime_dir = "/run/smartvm/jobs";
  v.directories = {"killed"};
  // ended: its guest powered off, smartvm-run removed its files and exited, libvirt is ending it.
  v.domains = {job("ended", 42), job("killed", 43)};
  v.locks = {{"/run/smartvm/jobs/ended", DirLock::missing}, {"/run/smartvm/jobs/killed", DirLock::taken}};
  CleanupPlan first = plan_job_cleanup(v);
  CHECK(names(first.orphans) == std::vector<std::string>{"killed"});  // its directory nobody holds: at once
  CHECK(first.ending == std::set<std::string>{"u-ended"});
  // Still there on the next pass: qemu did not end, so nodeld destroys it.
  v.ending_before = first.ending;
  CleanupPlan second = plan_job_cleanup(v);
  CHECK(names(second.orphans) == std::vector<std::string>{"ended", "killed"});
  CHECK(second.ending.empty());
}

TEST_CASE("job cleanup: a lock held by a live process, one SIGKILLed, a missing directory, a symlink", "[nodeld][jobs]") {
  test::TempDir t;
  fs::create_directories(t / "held");
  fs::create_directories(t / "free");
  fs::create_directories(t / "killed");
  fs::create_directory_symlink(t / "free", t / "link");
  FakeLauncher holder(t / "held");
  FakeLauncher killed(t / "killed");
  killed.kill();
  {
    JobLocks locks;
    CHECK(locks.probe((t / "held").string()) == DirLock::held);
    CHECK(locks.probe((t / "free").string()) == DirLock::taken);
    CHECK(locks.probe((t / "killed").string()) == DirLock::taken);
    CHECK(locks.probe((t / "none").string()) == DirLock::missing);
    CHECK(locks.probe((t / "link").string()) == DirLock::unknown);
    CHECK(locks.errors().count((t / "link").string()) == 1);
    // What the pass took, it keeps while it lasts: no smartvm-run can lock it meanwhile.
    CHECK(!lockable(t / "free"));
    CHECK(!lockable(t / "killed"));
    CHECK(locks.probe((t / "free").string()) == DirLock::taken);  // asked again: the same answer
  }
  CHECK(lockable(t / "free"));
  CHECK(!lockable(t / "held"));
}

TEST_CASE("job cleanup: smartvm-run's job directory is locked while it is in use, and free once removed", "[nodeld][jobs][launcher]") {
  test::TempDir t;
  auto files = launcher::JobFiles::create((t / "jobs").string(), "j1");
  REQUIRE(files);
  CHECK(!lockable(t / "jobs" / "j1"));
  {
    JobLocks locks;
    CHECK(locks.probe((t / "jobs" / "j1").string()) == DirLock::held);
  }
  // A second request with the same id is refused, and leaves the first one's lock alone.
  CHECK(!launcher::JobFiles::create((t / "jobs").string(), "j1"));
  CHECK(!lockable(t / "jobs" / "j1"));
  REQUIRE(files->remove());
  CHECK(!fs::exists(t / "jobs" / "j1"));
  fs::create_directories(t / "jobs" / "j1");
  CHECK(lockable(t / "jobs" / "j1"));  // nothing of the old run holds a new directory
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
  // Its files elsewhere, and a job id and a job directory that climb out: not judged, and no
  // directory of the runtime directory is taken for its own.
  v.domains = {job("../../etc", 5, {"/srv/images/../../run/smartvm/jobs/../x/disk.qcow2", "/tmp/j1/disk.qcow2"})};
  CHECK(directories_to_probe(v) == std::set<std::string>{"/run/smartvm/jobs/j1"});
  v.locks = {{"/run/smartvm/jobs/j1", DirLock::taken}, {"/run/etc", DirLock::taken}};
  CleanupPlan p = plan_job_cleanup(v);
  CHECK(p.orphans.empty());
  CHECK(p.leftovers == std::vector<std::string>{"/run/smartvm/jobs/j1"});
  // A job directory named with a trailing part is not the job's directory either.
  v.domains[0].job.job_dir = "/run/smartvm/jobs/j1/sub";
  CHECK(plan_job_cleanup(v).orphans.empty());
  CHECK(plan_job_cleanup(v).leftovers.empty());  // but j1 is its: used
}

TEST_CASE("job cleanup: on the test driver, a killed launcher's job goes and a live one's stays", "[nodeld][jobs][libvirt]") {
  test::TempDir t;
  fs::path runtime = t / "jobs";
  fs::path outside = t / "outside";
  Domains domains;
  REQUIRE(domains.conn);

  job_dir(runtime / "jdead");
  job_dir(runtime / "jlive");
  job_dir(runtime / "jended");    // its directory goes: smartvm-run ended as its domain did
  job_dir(runtime / "jleft");     // smartvm-run SIGKILLed after its domain went
  job_dir(runtime / "jmaking");   // smartvm-run making its directory, no domain yet
  job_dir(outside / "jout");      // a job whose files are not in the runtime directory
  fs::create_directory_symlink(outside, runtime / "link");  // never followed
  FakeLauncher dead(runtime / "jdead");
  FakeLauncher live(runtime / "jlive");
  FakeLauncher making(runtime / "jmaking");
  pid_t dead_pid = dead.pid();
  dead.kill();
  domains.create(job_domain_xml("jdead", dead_pid, (runtime / "jdead").string()), "smartvm-jdead");
  domains.create(job_domain_xml("jlive", live.pid(), (runtime / "jlive").string()), "smartvm-jlive");
  domains.create(job_domain_xml("jended", dead_pid, (runtime / "jended").string()), "smartvm-jended");
  domains.create(job_domain_xml("jout", dead_pid, (outside / "jout").string()), "smartvm-jout");
  fs::remove_all(runtime / "jended");

  std::vector<JobDomainRef> refs;
  for (const char* id : {"jdead", "jlive", "jended", "jout"}) {
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
  CleanupOutcome out = clean_up_jobs(connection, CleanupSettings{runtime.string()}, refs);
  INFO(out.problems.size());
  for (const std::string& p : out.problems) UNSCOPED_INFO(p);
  CHECK(out.problems.empty());
  CHECK(out.cleaned == 2);  // jdead destroyed; jleft removed; jended left alone this pass
  CHECK(domain_exists(domains.conn, "smartvm-jended"));
  CHECK(out.ending.size() == 1);
  // The next pass: jended is still there, so it goes.
  CleanupOutcome next = clean_up_jobs(connection, CleanupSettings{runtime.string()}, {refs[2]}, out.ending);
  CHECK(next.cleaned == 1);

  CHECK(!domain_exists(domains.conn, "smartvm-jdead"));
  CHECK(!fs::exists(runtime / "jdead"));
  CHECK(!domain_exists(domains.conn, "smartvm-jended"));
  CHECK(!fs::exists(runtime / "jleft"));
  // The live launcher's job and the one being made are untouched; a job whose directory is
  // not in the runtime directory is not nodeld's to judge.
  CHECK(domain_exists(domains.conn, "smartvm-jlive"));
  CHECK(fs::exists(runtime / "jlive" / "disk.qcow2"));
  CHECK(fs::exists(runtime / "jmaking" / "disk.qcow2"));
  CHECK(domain_exists(domains.conn, "smartvm-jout"));
  CHECK(fs::exists(outside / "jout" / "disk.qcow2"));
  CHECK(fs::is_symlink(runtime / "link"));
  CHECK(std::count_if(out.done.begin(), out.done.end(),
                      [](const std::string& l) { return l.find("destroyed domain smartvm-jdead") != std::string::npos; }) == 1);
  // Nothing of the pass holds a lock afterwards.
  CHECK(!lockable(runtime / "jlive"));
  making.kill();
  CHECK(lockable(runtime / "jmaking"));
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
  job_dir(runtime / "jdaemon");
  FakeLauncher dead(runtime / "jdaemon");
  pid_t dead_pid = dead.pid();
  dead.kill();
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
