// The Dom0 experiment with a real guest: a TCG domain under a private libvirtd writes and reads
// its file-backed disk in turn (cache=none: O_DIRECT on the host, so every request reaches the
// disk) as fast as it can, while the probe of io_probe.hpp measures the host's response time. Phases: idle; the
// guest unthrottled; a static QEMU limit at half of what it did; nodeld adaptive (libvirt
// backend: virDomainSetBlockIoTune), with the probe's cgroup2 group as "the host".
//
// Usage (root): bench_io_storm_tcg [SECONDS per phase, default 15] [TARGET io pressure %, default 10]
//                                  [GUEST dir with vmlinux and initrd.gz, default build/guest]
#include "io_probe.hpp"
#include "libvirtd.hpp"
#include "temp_dir.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string host_cgroup = "/sys/fs/cgroup/unified/smartvm-bench-tcg-host";
const char* const domain_name = "smartvm-bench-tcg";

// What the guest moved: read + written bytes.
double guest_bytes(virDomainPtr dom) {
  virDomainBlockStatsStruct st{};
  return virDomainBlockStats(dom, "vda", &st, sizeof st) < 0 ? -1 : double(st.rd_bytes + st.wr_bytes);
}

Phase guest_phase(const std::string& name, virDomainPtr dom, const std::string& dir, int seconds, int settle) {
  std::this_thread::sleep_for(std::chrono::seconds(settle));
  Phase ph{name, {}, 0};
  double before = guest_bytes(dom);
  auto t0 = Clock::now();
  ph.probe = probe(dir, seconds);
  double after = guest_bytes(dom);
  ph.guest_mib_s = (after - before) / std::chrono::duration<double>(Clock::now() - t0).count() / (1 << 20);
  return ph;
}

void set_limit(virDomainPtr dom, unsigned long long bytes) {
  virTypedParameterPtr params = nullptr;
  int n = 0, max = 0;
  for (const char* f : {VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC, VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC_MAX,
                        VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC, VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC_MAX})
    virTypedParamsAddULLong(&params, &n, &max, f, bytes);
  if (virDomainSetBlockIoTune(dom, "vda", params, n, VIR_DOMAIN_AFFECT_LIVE) < 0)
    std::fprintf(stderr, "bench_io_storm_tcg: %s\n", virGetLastErrorMessage());
  virTypedParamsFree(params, n);
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 15;
  std::string target = argc > 2 ? argv[2] : "10";
  std::string guest = argc > 3 ? argv[3] : SMARTVM_GUEST_DIR;
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_io_storm_tcg: run as root\n");
    return 2;
  }
  if (!fs::exists(guest + "/vmlinux") || !fs::exists(guest + "/initrd.gz")) {
    std::fprintf(stderr, "bench_io_storm_tcg: no %s/vmlinux and initrd.gz (ctest -R vm-guest-build makes them)\n", guest.c_str());
    return 2;
  }
  std::string dir = "/var/tmp/smartvm-bench-tcg." + std::to_string(getpid());
  fs::create_directories(dir);
  std::string image = dir + "/guest.img";
  {
    int fd = open(image.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char> block(1 << 20, 1);
    for (int i = 0; i < 256; ++i)
      if (write(fd, block.data(), block.size()) < 0) return 1;
    fsync(fd);
    close(fd);
  }

  smartvm::test::MachineCgroupsCleanup machine_cgroups(domain_name);  // goes after libvirtd
  smartvm::test::TempDir tmp;
  smartvm::test::Libvirtd libvirtd(tmp);
  if (!libvirtd.start()) {
    std::fprintf(stderr, "bench_io_storm_tcg: libvirtd did not start:\n%s\n", libvirtd.log().c_str());
    return 1;
  }
  virConnectPtr conn = virConnectOpen(libvirtd.qemu_uri().c_str());
  if (!conn) return 1;
  std::string xml =
      std::string("<domain type='qemu'><name>") + domain_name +
      "</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>"
      "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>" + guest + "/vmlinux</kernel><initrd>" + guest +
      "/initrd.gz</initrd><cmdline>console=ttyS0 quiet panic=1 smartvm.io=mixed</cmdline></os>"
      "<on_poweroff>destroy</on_poweroff><on_crash>destroy</on_crash>"
      "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
      "<disk type='file' device='disk'><driver name='qemu' type='raw' cache='none' io='native'/><source file='" + image +
      "'/><target dev='vda' bus='virtio'/></disk>"
      "<serial type='file'><source path='" + dir + "/serial.log'/><target port='0'/></serial>"
      "<memballoon model='none'/></devices></domain>";
  virDomainPtr dom = virDomainCreateXML(conn, xml.c_str(), 0);
  if (!dom) {
    std::fprintf(stderr, "bench_io_storm_tcg: %s\n", virGetLastErrorMessage());
    return 1;
  }
  for (int i = 0; i < 900; ++i) {
    std::ifstream serial(dir + "/serial.log");
    std::string text((std::istreambuf_iterator<char>(serial)), {});
    if (text.find("reading /dev/vda") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // From here this process is "the host": its cgroup2 group's io.pressure is the host's.
  fs::create_directory(host_cgroup);
  write_text(host_cgroup + "/cgroup.procs", "0");

  std::vector<Phase> phases;
  Phase idle{"idle (guest paused)", {}, -1};
  virDomainSuspend(dom);
  idle.probe = probe(dir, seconds);
  virDomainResume(dom);
  phases.push_back(idle);
  phases.push_back(guest_phase("TCG guest, no nodeld", dom, dir, seconds, 2));
  double unthrottled = phases.back().guest_mib_s;
  set_limit(dom, static_cast<unsigned long long>(unthrottled / 4 * (1 << 20)));  // each direction: half in all
  phases.push_back(guest_phase("TCG guest, QEMU cap 1/2", dom, dir, seconds, 2));
  set_limit(dom, 0);

  std::ofstream(dir + "/nodeld.ini") << "[node]\nname = bench\nlibvirt_uri = " << libvirtd.qemu_uri()
                                     << "\n[report]\nmetrics_listen =\n[ipoib]\nmode = off\n[throttle]\nmode = adaptive\n"
                                     << "pressure = " << host_cgroup << "/io.pressure\ntarget_io_pressure = " << target << "\n";
  std::string log = dir + "/nodeld.log";
  pid_t nodeld = fork();
  if (nodeld == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");
    std::string config = dir + "/nodeld.ini";
    execl(SMARTVM_NODELD_PATH, "nodeld", "--config", config.c_str(), nullptr);
    _exit(127);
  }
  phases.push_back(guest_phase("TCG guest, nodeld adaptive", dom, dir, seconds, 15));
  kill(nodeld, SIGTERM);
  waitpid(nodeld, nullptr, 0);
  int changes = 0;
  std::string last;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);)
      if (line.find("throttle: domain") != std::string::npos) ++changes, last = line;
  }

  virDomainDestroy(dom);
  virDomainFree(dom);
  virConnectClose(conn);
  libvirtd.stop();
  write_text("/sys/fs/cgroup/unified/cgroup.procs", "0");
  rmdir(host_cgroup.c_str());
  fs::remove_all(dir);

  std::printf("%d s per phase, probe every 20 ms (4 KiB write + fdatasync, create + unlink), target_io_pressure = %s\n\n",
              seconds, target.c_str());
  print_table(phases, unthrottled);
  std::printf("\nnodeld: %d limit changes; last: %s\n", changes, last.c_str());
  return 0;
}
