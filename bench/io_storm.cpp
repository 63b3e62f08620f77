// The paper's Dom0 experiment on this host: a guest-like I/O storm against the host's disk while
// a probe measures the host's own response time, without and with nodeld's adaptive throttle.
//
// The "guest" is a process doing what qemu with cache=none does for a busy guest: O_DIRECT
// 1 MiB writes and reads over a 256 MiB image, in a cgroup of its own (v1 blkio here). The
// "host" is a probe in a cgroup2 group of its own (its io.pressure is the host's pressure, as
// system.slice's is on a systemd host): every 20 ms a 4 KiB write + fdatasync and a file
// create + unlink, as a daemon logging or a shell working would do. nodeld runs with libvirt's
// test driver naming one running domain "guest" whose cgroup is the storm's (backend = cgroup).
//
// Usage (root): bench_io_storm [SECONDS per phase, default 20] [TARGET io pressure %, default 10]
//                              [DIR on the disk, default /var/tmp] [STORM: mixed (default), phased, read, write]
// read and write storms separate what the probe suffers from: queueing behind the guest's
// requests (both) or the device cache flush its fdatasync must wait for (writes only).
// SMARTVM_BENCH_QUEUE="SCHEDULER MAX_REQUEST_KIB WRITE_LATENCY_US" (e.g. "kyber 128 500") sets
// the disk's queue for every phase (as a udev rule would on a host) and puts it back at the end.
#include "cgroup_limiter.hpp"
#include "io_probe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using smartvm::nodeld::cgroup_io_counters;

namespace {

const std::string guest_cgroup = "/sys/fs/cgroup/blkio/smartvm-bench-guest";
const std::string host_cgroup = "/sys/fs/cgroup/unified/smartvm-bench-host";
constexpr size_t block = 1 << 20;
constexpr size_t image_blocks = 256;
// mixed: 256 MiB written, then read back, in turn (several turns a second); phased: the same
// in 2 GiB turns (about a second each), so that a second of it is mostly one direction.
enum class Storm { mixed, phased, read, write };
Storm storm_kind = Storm::mixed;

// The storm, in its cgroup, until killed.
pid_t start_storm(const std::string& image) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  write_text(guest_cgroup + "/cgroup.procs", "0");
  write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");  // out of the host's group: its stalls are not the host's
  int fd = open(image.c_str(), O_RDWR | O_DIRECT);
  if (fd < 0) _exit(1);
  void* buf = nullptr;
  if (posix_memalign(&buf, 4096, block) != 0) _exit(1);
  std::memset(buf, 0x5a, block);
  for (size_t i = 0;; ++i) {
    off_t at = off_t((i % image_blocks) * block);
    size_t turn = storm_kind == Storm::phased ? 8 * image_blocks : image_blocks;
    bool writing = storm_kind == Storm::write || (storm_kind != Storm::read && (i / turn) % 2 == 0);
    ssize_t n = writing ? pwrite(fd, buf, block, at) : pread(fd, buf, block, at);
    if (n < 0) _exit(1);
  }
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

// The storm for `settle` seconds, then for the probe; guest MiB/s: what its cgroup moved.
Phase storm_phase(const std::string& name, const std::string& dir, const std::string& image, int seconds, int settle) {
  Phase ph{name, {}, 0};
  pid_t storm = start_storm(image);
  std::this_thread::sleep_for(std::chrono::seconds(settle));
  auto before = cgroup_io_counters(guest_cgroup);
  auto t0 = Clock::now();
  ph.probe = probe(dir, seconds);
  auto after = cgroup_io_counters(guest_cgroup);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (before && after) ph.guest_mib_s = double((*after)[0] + (*after)[1] - (*before)[0] - (*before)[1]) / s / (1 << 20);
  stop(storm);
  return ph;
}

std::string format_share(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%g %%", share * 100);
  return text;
}

// SMARTVM_BENCH_QUEUE, read before anything is made.
struct QueueSpec {
  char scheduler[32] = "";
  unsigned max_kib = 0, write_lat_us = 0;
};

// The disk's queue settings for the run, and back as they were when it ends.
class QueueTuning {
 public:
  QueueTuning(const smartvm::nodeld::BlockDevice& device, const std::optional<QueueSpec>& spec) {
    if (!spec) return;
    const char* scheduler = spec->scheduler;
    unsigned max_kib = spec->max_kib, write_lat_us = spec->write_lat_us;
    queue_ = "/sys/dev/block/" + device.text() + "/queue/";
    old_scheduler_ = read_line(queue_ + "scheduler");
    old_max_kib_ = read_line(queue_ + "max_sectors_kb");
    size_t open = old_scheduler_.find('['), close = old_scheduler_.find(']');
    old_scheduler_ = open != std::string::npos && close > open ? old_scheduler_.substr(open + 1, close - open - 1) : "none";
    write_text(queue_ + "scheduler", scheduler);
    write_text(queue_ + "max_sectors_kb", std::to_string(max_kib));
    if (std::string(scheduler) == "kyber") write_text(queue_ + "iosched/write_lat_nsec", std::to_string(write_lat_us * 1000ull));
    description_ = std::string(scheduler) + ", requests of at most " + std::to_string(max_kib) + " KiB, write latency target " +
                   std::to_string(write_lat_us) + " us";
  }
  ~QueueTuning() {
    if (queue_.empty()) return;
    write_text(queue_ + "scheduler", old_scheduler_);
    write_text(queue_ + "max_sectors_kb", old_max_kib_);
  }
  QueueTuning(const QueueTuning&) = delete;
  QueueTuning& operator=(const QueueTuning&) = delete;
  const std::string& description() const { return description_; }

 private:
  static std::string read_line(const std::string& file) {
    std::string line;
    std::getline(std::ifstream(file) >> std::ws, line);
    return line;
  }
  std::string queue_, old_scheduler_, old_max_kib_, description_ = "as it was";
};

double storm_mib_free(const std::vector<Phase>& phases) { return phases.size() > 1 ? phases[1].guest_mib_s : 0; }

}  // namespace

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 20;
  std::string target = argc > 2 ? argv[2] : "10";
  std::string base = argc > 3 ? argv[3] : "/var/tmp";
  std::string kind = argc > 4 ? argv[4] : "mixed";
  if (kind == "read") storm_kind = Storm::read;
  else if (kind == "write") storm_kind = Storm::write;
  else if (kind == "phased") storm_kind = Storm::phased;
  else if (kind != "mixed") {
    std::fprintf(stderr, "bench_io_storm: STORM is mixed, phased, read or write, not %s\n", kind.c_str());
    return 2;
  }
  std::optional<QueueSpec> queue_spec;
  if (const char* text = std::getenv("SMARTVM_BENCH_QUEUE"); text && *text) {
    queue_spec.emplace();
    if (std::sscanf(text, "%31s %u %u", queue_spec->scheduler, &queue_spec->max_kib, &queue_spec->write_lat_us) != 3) {
      std::fprintf(stderr, "bench_io_storm: SMARTVM_BENCH_QUEUE is \"SCHEDULER MAX_REQUEST_KIB WRITE_LATENCY_US\"\n");
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_io_storm: run as root (cgroups)\n");
    return 2;
  }
  std::string dir = base + "/smartvm-bench-io." + std::to_string(getpid());
  fs::create_directories(dir);
  fs::create_directory(guest_cgroup);
  fs::create_directory(host_cgroup);
  write_text(host_cgroup + "/cgroup.procs", "0");  // the probe (this process) is "the host"

  std::string image = dir + "/guest.img";
  {
    int fd = open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char> zeros(block, 0);
    for (size_t i = 0; i < image_blocks; ++i)
      if (write(fd, zeros.data(), block) < 0) return 1;
    fsync(fd);
    close(fd);
  }

  auto device = smartvm::nodeld::block_device_of(image);
  if (!device) {
    std::fprintf(stderr, "bench_io_storm: %s\n", device.error().message.c_str());
    write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");
    rmdir(host_cgroup.c_str());
    rmdir(guest_cgroup.c_str());
    fs::remove_all(dir);
    return 1;
  }
  QueueTuning queue(*device, queue_spec);

  std::vector<Phase> phases;
  phases.push_back({"idle", probe(dir, seconds), -1});
  phases.push_back(storm_phase("storm, no nodeld", dir, image, seconds, 2));

  // Static limits at half and a quarter of what the storm did: what any throttle can buy here.
  std::vector<double> shares{0.5, 0.25};
  if (const char* list = std::getenv("SMARTVM_BENCH_CAPS")) {  // e.g. "0.1 0.03 0.01": where the tail ends
    shares.clear();
    for (char* end = nullptr; *list; list = end) {
      double v = std::strtod(list, &end);
      if (end == list) break;
      shares.push_back(v);
    }
  }
  for (double share : shares) {
    if (storm_mib_free(phases) <= 0) break;
    auto limit = static_cast<uint64_t>(share * storm_mib_free(phases) * (1 << 20));
    smartvm::nodeld::apply_cgroup_limits(guest_cgroup, {*device}, smartvm::nodeld::IoLimits{limit, limit, 0, 0});
    phases.push_back(storm_phase("storm, static " + format_share(share) + " cap", dir, image, seconds, 2));
    smartvm::nodeld::apply_cgroup_limits(guest_cgroup, {*device}, smartvm::nodeld::IoLimits{});
  }

  // nodeld: the test driver's node with one running domain, "guest", whose disk is the image.
  write_text(dir + "/node.xml",
             "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>2</active><nodes>1</nodes><sockets>1</sockets>"
             "<cores>2</cores><threads>1</threads></cpu><memory>4194304</memory>"
             "<domain type='test'><name>guest</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
             "<devices><disk type='file' device='disk'><source file='" + image + "'/><target dev='vda'/></disk></devices>"
             "</domain></node>\n");
  write_text(dir + "/nodeld.ini", "[node]\nname = bench\nlibvirt_uri = test://" + dir +
                                      "/node.xml\n[report]\nmetrics_listen =\n[ipoib]\nmode = off\n"
                                      "[throttle]\nmode = adaptive\nbackend = cgroup\n"
                                      "cgroup = /sys/fs/cgroup/blkio/smartvm-bench-%n\n"
                                      "pressure = " + host_cgroup + "/io.pressure\ntarget_io_pressure = " + target + "\n");
  std::string log = dir + "/nodeld.log";
  pid_t nodeld = fork();
  if (nodeld == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");  // nodeld's own I/O is not the probe's
    std::string config = dir + "/nodeld.ini";
    execl(SMARTVM_NODELD_PATH, "nodeld", "--config", config.c_str(), nullptr);
    _exit(127);
  }
  phases.push_back(storm_phase("storm, nodeld adaptive", dir, image, seconds, 15));
  stop(nodeld);

  std::string changes;
  {
    std::ifstream in(log);
    int n = 0;
    std::string last;
    for (std::string line; std::getline(in, line);)
      if (line.find("throttle: domain guest") != std::string::npos) ++n, last = line;
    changes = std::to_string(n) + " limit changes; last: " + last;
  }

  write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");
  rmdir(host_cgroup.c_str());
  rmdir(guest_cgroup.c_str());
  fs::remove_all(dir);

  std::printf("%d s per phase, %s storm, probe every 20 ms (4 KiB write + fdatasync, create + unlink), "
              "target_io_pressure = %s\ndisk queue: %s\n\n", seconds, kind.c_str(), target.c_str(), queue.description().c_str());
  print_table(phases, storm_mib_free(phases));
  std::printf("\nnodeld: %s\n", changes.c_str());
  return 0;
}
