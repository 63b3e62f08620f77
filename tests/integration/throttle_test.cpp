// Guest I/O throttling for real: nodeld against a private libvirtd (libvirt's test driver,
// whose block I/O tune and metadata behave as QEMU's do) applying its static policy on start,
// on a domain's start event and again after a restart, and leaving limits it did not set
// alone; and the cgroup v1 blkio backend holding a real process's direct I/O to its limit.
#include "background_process.hpp"
#include "catch_result.hpp"
#include "cgroup_limiter.hpp"
#include "http_client.hpp"
#include "libvirtd.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

using namespace smartvm;
using namespace smartvm::nodeld;
using namespace smartvm::test;

namespace {

std::string domain_xml(const std::string& name, const std::string& metadata = "") {
  return "<domain type='test'><name>" + name +
         "</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>" +
         (metadata.empty() ? "" : "<metadata>" + metadata + "</metadata>") +
         "<devices><disk type='file' device='disk'><source file='/var/lib/smartvm/" + name +
         ".img'/><target dev='vda' bus='virtio'/></disk></devices></domain>";
}

struct Lab {
  TempDir t;
  Libvirtd libvirtd{t};
  std::string config = (t / "nodeld.ini").string();
  // The test driver frees its default node when its last connection closes: this one keeps
  // the domains alive between virsh calls and nodeld's restarts.
  virConnectPtr keep = nullptr;

  bool start() {
    if (!libvirtd.start()) return false;
    keep = virConnectOpen(libvirtd.uri().c_str());
    return keep != nullptr;
  }
  ~Lab() {
    if (keep) virConnectClose(keep);
  }

  // One virsh command, its words as separate arguments.
  ProcessResult virsh(const std::string& command) {
    std::vector<std::string> argv{"/usr/bin/virsh", "-c", libvirtd.uri()};
    std::istringstream words(command);
    for (std::string w; words >> w;) argv.push_back(w);
    return run_process(argv);
  }
  void create(const std::string& name, const std::string& metadata = "") {
    write_file(t / (name + ".xml"), domain_xml(name, metadata));
    auto r = virsh("create " + (t / (name + ".xml")).string());
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(virsh("domstate " + name).out.find("running") != std::string::npos);
  }
  // One field of `virsh blkdeviotune DOMAIN vda`.
  uint64_t tune(const std::string& domain, const std::string& field) {
    auto r = virsh("blkdeviotune " + domain + " vda");
    std::string key = "\n" + field;
    size_t at = ("\n" + r.out).find(key + " ");
    if (at == std::string::npos) at = ("\n" + r.out).find(key + ":");
    if (at == std::string::npos) return UINT64_MAX;
    size_t colon = r.out.find(':', at);
    return std::stoull(r.out.substr(colon + 1));
  }
  // Polls until the field has the value (nodeld works once a second): the value seen last.
  uint64_t wait_tune(const std::string& domain, const std::string& field, uint64_t want) {
    uint64_t v = 0;
    for (int i = 0; i < 100; ++i) {
      v = tune(domain, field);
      if (v == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return v;
  }
  void write_config(const std::string& throttle) {
    write_file(config, "[node]\nname = node-it\nlibvirt_uri = " + libvirtd.uri() +
                           "\ninterval = 1\n[ipoib]\nmode = off\n[report]\nmetrics_listen = 127.0.0.1:0\n" + throttle);
  }
};

constexpr uint64_t MiB = 1 << 20;

}  // namespace

TEST_CASE("nodeld: static limits reach every disk of running and starting guests, survive a restart, spare foreign limits",
          "[nodeld][throttle][libvirtd]") {
  Lab lab;
  REQUIRE(lab.start());
  lab.create("job-a");
  lab.create("bulk-b");
  lab.create("foreign-c");
  // Somebody else's limit, set before nodeld runs.
  auto foreign = lab.virsh("blkdeviotune foreign-c vda --read-bytes-sec 3145728 --read-bytes-sec-max 3145728 --live");
  INFO(foreign.out << foreign.err << lab.virsh("list --all").out);
  REQUIRE(foreign.exit_code == 0);
  lab.write_config(
      "[throttle]\nmode = static\nwrite_bytes_sec = 10M\nread_iops_sec = 500\n"
      "[throttle:bulk-*]\nwrite_bytes_sec = 40M\n");

  {
    BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", lab.config}, (lab.t / "nodeld.log").string());
    int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
    REQUIRE(port > 0);
    CHECK(lab.wait_tune("job-a", "write_bytes_sec", 10 * MiB) == 10 * MiB);
    CHECK(lab.tune("job-a", "read_iops_sec") == 500);
    CHECK(lab.tune("job-a", "read_bytes_sec") == 0);
    CHECK(lab.wait_tune("bulk-b", "write_bytes_sec", 40 * MiB) == 40 * MiB);  // its section
    CHECK(lab.tune("bulk-b", "read_iops_sec") == 500);                        // inherited
    REQUIRE(nodeld.wait_for_log("foreign-c has limits nodeld did not set (read 3.0 MiB/s)"));
    CHECK(lab.tune("foreign-c", "read_bytes_sec") == 3 * MiB);
    CHECK(lab.tune("foreign-c", "write_bytes_sec") == 0);

    // A guest that starts now gets its limits at once: here its own, from its metadata.
    lab.create("meta-d", "<smartvm:throttle xmlns:smartvm='http://smartvm.org/xmlns/libvirt/throttle/1' write_bytes_sec='2M'/>");
    CHECK(lab.wait_tune("meta-d", "write_bytes_sec", 2 * MiB) == 2 * MiB);
    CHECK(lab.tune("meta-d", "read_iops_sec") == 500);

    // The report and /metrics say what nodeld applied.
    std::string scrape;
    for (int i = 0; i < 50; ++i) {
      scrape = http_get(port, "/metrics");
      if (scrape.find("smartvm_domain_throttle_write_bytes_per_second{domain=\"meta-d\"}") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO(scrape);
    CHECK(scrape.find("smartvm_domain_throttle_write_bytes_per_second{domain=\"job-a\"} 10485760") != std::string::npos);
    CHECK(scrape.find("smartvm_domain_throttle_write_bytes_per_second{domain=\"meta-d\"} 2097152") != std::string::npos);
    CHECK(scrape.find("smartvm_domain_throttle_write_bytes_per_second{domain=\"foreign-c\"}") == std::string::npos);
    CHECK(nodeld.stop() == 0);
  }

  // A restart with a new policy: nodeld knows its own limits by the record in the domains'
  // metadata and replaces them; the foreign ones stay.
  lab.write_config("[throttle]\nmode = static\nwrite_bytes_sec = 20M\n");
  {
    BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", lab.config}, (lab.t / "nodeld2.log").string());
    CHECK(lab.wait_tune("job-a", "write_bytes_sec", 20 * MiB) == 20 * MiB);
    CHECK(lab.wait_tune("job-a", "read_iops_sec", 0) == 0);
    CHECK(lab.wait_tune("bulk-b", "write_bytes_sec", 20 * MiB) == 20 * MiB);
    REQUIRE(nodeld.wait_for_log("foreign-c has limits nodeld did not set"));
    CHECK(lab.tune("foreign-c", "read_bytes_sec") == 3 * MiB);
    CHECK(nodeld.stop() == 0);
  }

  // Told to, nodeld replaces them too.
  lab.write_config("[throttle]\nmode = static\nwrite_bytes_sec = 20M\noverride_foreign_limits = true\n");
  {
    BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", lab.config}, (lab.t / "nodeld3.log").string());
    CHECK(lab.wait_tune("foreign-c", "write_bytes_sec", 20 * MiB) == 20 * MiB);
    CHECK(lab.tune("foreign-c", "read_bytes_sec") == 0);
    CHECK(nodeld.wait_for_log("foreign-c: replacing limits nodeld did not set"));
    CHECK(nodeld.stop() == 0);
  }
}

TEST_CASE("nodeld: a guest's own I/O pressure is read from its cgroup's io.pressure into /metrics, a missing one said once",
          "[nodeld][throttle][libvirtd]") {
  Lab lab;
  REQUIRE(lab.start());
  lab.create("job-a");
  lab.create("job-b");  // its file does not exist
  // Fake PSI files: the host never over its target, job-a with a known stall counter.
  write_file(lab.t / "host.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  auto guest_psi = [&](uint64_t total_us) {
    write_file(lab.t / "job-a.pressure", "some avg10=12.00 avg60=0.00 avg300=0.00 total=" + std::to_string(total_us) +
                                             "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  };
  guest_psi(2'500'000);
  lab.write_config("[throttle]\nmode = adaptive\ntarget_io_pressure = 100\npressure = " + (lab.t / "host.pressure").string() +
                   "\ndomain_pressure = " + (lab.t / "%n.pressure").string() + "\n");

  BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", lab.config}, (lab.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  auto scrape_until = [&](const std::string& line) { return get_until(port, "/metrics", line); };
  std::string scrape = scrape_until("smartvm_domain_io_pressure_some_seconds_total{domain=\"job-a\"} 2.5\n");
  INFO(scrape);
  CHECK(scrape.find("smartvm_domain_io_pressure_some_seconds_total{domain=\"job-a\"} 2.5\n") != std::string::npos);
  CHECK(scrape.find("smartvm_domain_io_pressure_some_ratio{domain=\"job-a\"}") != std::string::npos);
  CHECK(scrape.find("smartvm_domain_io_pressure_some_ratio{domain=\"job-b\"}") == std::string::npos);

  // Read again every second: the counter follows the file.
  guest_psi(3'000'000);
  scrape = scrape_until("smartvm_domain_io_pressure_some_seconds_total{domain=\"job-a\"} 3\n");
  CHECK(scrape.find("smartvm_domain_io_pressure_some_seconds_total{domain=\"job-a\"} 3\n") != std::string::npos);

  // Several ticks later, job-b's missing file has been said once, naming the file.
  std::string missing = "throttle: domain job-b: no I/O pressure of its own: open " + (lab.t / "job-b.pressure").string();
  REQUIRE(nodeld.wait_for_log(missing));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  CHECK(occurrences(nodeld.log(), missing) == 1);
  CHECK(nodeld.stop() == 0);
}

namespace {

// A cgroup of the v1 blkio hierarchy for one test, removed when it ends (its processes are
// reaped by then).
struct BlkioCgroup {
  std::string dir = "/sys/fs/cgroup/blkio/smartvm-test-" + std::to_string(getpid());
  BlkioCgroup() { std::filesystem::create_directory(dir); }
  ~BlkioCgroup() { rmdir(dir.c_str()); }
};

// dd with O_DIRECT in the cgroup, as qemu with cache=none writes a guest's disk: seconds taken.
double direct_write(const std::string& cgroup, const std::string& file, int mib) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY);
    if (fd < 0 || write(fd, "0", 1) != 1) _exit(126);  // "0": the writing process itself
    close(fd);
    std::string of = "of=" + file, count = "count=" + std::to_string(mib);
    // conv=fsync: should the filesystem take a direct write through the page cache after all,
    // the flush is still this process's I/O (cgroup v1 charges writeback to the root).
    execl("/bin/dd", "dd", "if=/dev/zero", of.c_str(), "bs=1M", count.c_str(), "oflag=direct", "conv=notrunc,fsync",
          "status=none", nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("throttle: the cgroup v1 blkio backend holds a real process's direct writes to its limit", "[throttle][cgroup]") {
  REQUIRE(std::filesystem::exists("/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device"));
  TempDir t;
  write_file(t / "disk.img", "");
  auto dev = block_device_of((t / "disk.img").string());
  REQUIRE(dev);
  BlkioCgroup cg;
  // As nodeld does at first sight of a guest: without it, a disk that never had a throttle
  // rule since boot (a fresh CI machine) counts nothing below.
  REQUIRE(enable_io_accounting(cg.dir, *dev));
  auto still = cgroup_limits(cg.dir, *dev);
  REQUIRE(still);
  CHECK(!still->any());  // and it limits nothing

  double free_run = direct_write(cg.dir, (t / "disk.img").string(), 8);
  REQUIRE(free_run >= 0);
  // What the guest did, as the throttle's rates read it from the cgroup.
  auto done = cgroup_io_counters(cg.dir);
  REQUIRE(done);
  INFO("blkio.throttle.io_service_bytes:\n" << read_file(cg.dir + "/blkio.throttle.io_service_bytes"));
  CHECK((*done)[1] >= 8 * MiB);
  CHECK((*done)[3] >= 8);

  REQUIRE(apply_cgroup_limits(cg.dir, {*dev}, IoLimits{0, 4 * MiB, 0, 0}));
  auto back = cgroup_limits(cg.dir, *dev);
  REQUIRE(back);
  CHECK(back->write_bytes_sec == 4 * MiB);
  double limited = direct_write(cg.dir, (t / "disk.img").string(), 8);
  INFO("8 MiB unthrottled in " << free_run << " s, at 4 MiB/s in " << limited << " s");
  CHECK(limited >= 1.5);  // 2 s at the limit, less the kernel's first slice
  CHECK(limited > 2 * free_run);

  // Zeros remove the limit again.
  REQUIRE(apply_cgroup_limits(cg.dir, {*dev}, IoLimits{}));
  back = cgroup_limits(cg.dir, *dev);
  REQUIRE(back);
  CHECK(!back->any());
}
