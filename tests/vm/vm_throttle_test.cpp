// nodeld's adaptive throttle on a real TCG domain under a private libvirtd: the tiny guest reads
// its file-backed disk with O_DIRECT as fast as it can; while the host's I/O pressure is high
// (a stand-in PSI file the test drives, so that the test decides when the host "stalls"),
// nodeld cuts the guest's limits through virDomainSetBlockIoTune and the guest's reads, measured
// from libvirt's block stats, fall to the floor; when the pressure goes, the limits are lifted
// and the reads come back.
#include "background_process.hpp"
#include "libvirtd.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

using namespace smartvm::test;
namespace fs = std::filesystem;

namespace {

constexpr double MiB = 1024 * 1024;

// The guest's read bytes per second over `seconds`, from libvirt's block stats.
double read_rate(virDomainPtr dom, double seconds) {
  virDomainBlockStatsStruct a{}, b{};
  if (virDomainBlockStats(dom, "vda", &a, sizeof a) < 0) return -1;
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(int(seconds * 1000)));
  if (virDomainBlockStats(dom, "vda", &b, sizeof b) < 0) return -1;
  return double(b.rd_bytes - a.rd_bytes) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t read_limit(virDomainPtr dom) {
  virTypedParameter params[32];
  int n = 32;
  if (virDomainGetBlockIoTune(dom, "vda", params, &n, VIR_DOMAIN_AFFECT_LIVE) < 0) return UINT64_MAX;
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    if (std::string(params[i].field) == VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC) v = params[i].value.ul;
  virTypedParamsClear(params, n);
  return v;
}

bool wait_until(const std::function<bool()>& ok, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return ok();
}

}  // namespace

TEST_CASE("nodeld throttles a real TCG domain's disk under host I/O pressure and lifts the limit when it goes",
          "[throttle][libvirtd]") {
  TempDir t;
  MachineCgroupsCleanup cleanup("smartvm-busy");
  Libvirtd libvirtd(t);
  REQUIRE(libvirtd.start());
  virConnectPtr conn = virConnectOpen(libvirtd.qemu_uri().c_str());  // about 8 s: libvirt probes qemu
  INFO(libvirtd.log());
  REQUIRE(conn);
  std::unique_ptr<virConnect, int (*)(virConnectPtr)> keep(conn, virConnectClose);

  {
    int fd = open((t / "disk.img").c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 64 << 20) == 0);
    close(fd);
  }
  std::string guest = SMARTVM_GUEST_DIR;
  std::string xml =
      "<domain type='qemu'><name>smartvm-busy</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>"
      "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>" + guest + "/vmlinux</kernel><initrd>" + guest +
      "/initrd.gz</initrd><cmdline>console=ttyS0 quiet panic=1 smartvm.io=read</cmdline></os>"
      "<on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>"
      "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
      "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='" +
      (t / "disk.img").string() + "'/><target dev='vda' bus='virtio'/></disk>"
      "<serial type='file'><source path='" + (t / "serial.log").string() + "'/><target port='0'/></serial>"
      "<memballoon model='none'/></devices></domain>";
  virDomainPtr dom = virDomainCreateXML(conn, xml.c_str(), 0);
  REQUIRE(dom);
  std::unique_ptr<virDomain, void (*)(virDomainPtr)> domain(dom, [](virDomainPtr d) {
    virDomainDestroy(d);
    virDomainFree(d);
  });
  REQUIRE(wait_until([&] { return fs::exists(t / "serial.log") && read_file(t / "serial.log").find("reading /dev/vda") != std::string::npos; },
                     std::chrono::seconds(90)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double free_rate = read_rate(dom, 3);
  INFO("unthrottled: " << free_rate / MiB << " MiB/s");
  REQUIRE(free_rate > 8 * MiB);  // else the floor below would prove nothing

  // The host's "I/O pressure": a PSI file whose stall total the test advances (50 %) or not (0 %).
  std::atomic<bool> stalling{true}, done{false};
  std::string pressure = (t / "io.pressure").string();
  write_file(pressure, "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  std::thread host([&] {
    uint64_t total = 0;
    while (!done) {
      if (stalling) total += 50'000;  // 50 ms of stall every 100 ms
      write_file(pressure + ".new", "some avg10=50.00 avg60=0.00 avg300=0.00 total=" + std::to_string(total) +
                                        "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
      fs::rename(pressure + ".new", pressure);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct Join {
    std::atomic<bool>& done;
    std::thread& th;
    ~Join() {
      done = true;
      th.join();
    }
  } join{done, host};

  write_file(t / "nodeld.ini", "[node]\nname = vm-node\nlibvirt_uri = " + libvirtd.qemu_uri() +
                                   "\ninterval = 2\n[report]\nmetrics_listen =\n[ipoib]\nmode = off\n"
                                   "[throttle]\nmode = adaptive\npressure = " + pressure +
                                   "\ntarget_io_pressure = 10\nfloor_bytes_sec = 2M\nfloor_iops_sec = 2\nstep = 50\nrelax_after = 1\n");
  BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", (t / "nodeld.ini").string()}, (t / "nodeld.log").string());
  bool floored = wait_until([&] { return read_limit(dom) == 2 << 20; }, std::chrono::seconds(40));
  INFO(nodeld.log());
  REQUIRE(floored);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double limited = read_rate(dom, 4);
  INFO("at the 2 MiB/s floor: " << limited / MiB << " MiB/s");
  CHECK(limited <= 3 * MiB);
  CHECK(limited > 0.5 * MiB);  // limited, not stopped
  CHECK(nodeld.log().find("target 10.0%: cut read bytes/s") != std::string::npos);

  stalling = false;
  CHECK(wait_until([&] { return read_limit(dom) == 0; }, std::chrono::seconds(40)));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double back = read_rate(dom, 3);
  INFO("lifted: " << back / MiB << " MiB/s");
  CHECK(back > 0.5 * free_rate);
  CHECK(nodeld.log().find("lifted the read bytes/s cap") != std::string::npos);
  CHECK(nodeld.stop() == 0);
}
