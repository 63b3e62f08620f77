// The throttle's two backends through the ThrottleBackend interface, as the throttler drives
// them: libvirt's block I/O tune on libvirt's own test driver (in process), and cgroup limits
// on a fake cgroup v2 directory and sysfs tree. Both record the limits as nodeld's own in the
// domain's metadata, where block_load() finds them again.
#include "catch_result.hpp"
#include "libvirt_block_tune.hpp"
#include "temp_dir.hpp"
#include "throttle_backend.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// A test-driver node with one running domain whose disk vda is the file `disk`.
std::string node_with_disk(const std::string& disk) {
  return "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>4</active><nodes>1</nodes><sockets>1</sockets>"
         "<cores>2</cores><threads>2</threads></cpu><memory>8388608</memory>\n"
         "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>job1</name>"
         "<memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>"
         "<disk type='file' device='disk'><source file='" +
         disk + "'/><target dev='vda' bus='virtio'/></disk></devices><test:runstate>1</test:runstate></domain>\n</node>\n";
}

GuestBlockLoad the_guest(LibvirtBlockTune& libvirt) {
  auto loads = libvirt.block_load();
  REQUIRE(loads);
  REQUIRE(loads->size() == 1);
  return loads->front();
}

const IoLimits limits{4 << 20, 2 << 20, 300, 200};

}  // namespace

TEST_CASE("throttle backend: libvirt's block I/O tune, read back and recorded as nodeld's", "[throttle][backend]") {
  test::TempDir t;
  test::write_file(t / "node.xml", node_with_disk("/var/lib/libvirt/images/job1.qcow2"));
  auto libvirt = std::make_shared<LibvirtBlockTune>(
      std::make_shared<LibvirtConnection>("test://" + (t / "node.xml").string(), [](const DomainEvent&) {}));
  auto backend = make_throttle_backend(ThrottleBackendKind::libvirt, "", "/sys", libvirt);

  GuestBlockLoad g = the_guest(*libvirt);
  REQUIRE(g.disks.size() == 1);
  CHECK(g.disks[0].target == "vda");
  CHECK(!g.recorded);
  auto before = backend->current_limits(g);
  REQUIRE(before);
  CHECK(!before->any());
  CHECK(!backend->counters(g));  // libvirt's own counters are the ones

  REQUIRE(backend->apply(g, limits));
  auto after = backend->current_limits(g);
  REQUIRE(after);
  CHECK(*after == limits);
  CHECK(the_guest(*libvirt).recorded == limits);
}

TEST_CASE("throttle backend: cgroup v2 limits on the host disk behind a guest's disk", "[throttle][backend][cgroup]") {
  test::TempDir t;
  // The guest's disk is the test binary: a file on the host's disk (unless the build is on
  // tmpfs or overlay, where there is no disk to throttle).
  std::string disk = std::filesystem::canonical("/proc/self/exe").string();
  struct stat st {};
  REQUIRE(stat(disk.c_str(), &st) == 0);
  if (major(st.st_dev) == 0) {
    WARN("the test binary is on no block device (overlay, tmpfs): nothing to check here");
    return;
  }
  std::string device = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  std::filesystem::create_directories(t / ("sys/dev/block/" + device));  // a whole disk: no "partition"
  std::filesystem::create_directories(t / "cgroup/job1");
  test::write_file(t / "cgroup/job1/io.max", "");
  test::write_file(t / "cgroup/job1/io.stat", device + " rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  test::write_file(t / "node.xml", node_with_disk(disk));
  auto libvirt = std::make_shared<LibvirtBlockTune>(
      std::make_shared<LibvirtConnection>("test://" + (t / "node.xml").string(), [](const DomainEvent&) {}));
  auto backend = make_throttle_backend(ThrottleBackendKind::cgroup, (t / "cgroup/%n").string(), (t / "sys").string(), libvirt);

  GuestBlockLoad g = the_guest(*libvirt);
  auto counters = backend->counters(g);
  REQUIRE(counters);
  CHECK(*counters == std::array<uint64_t, 4>{4096, 8192, 1, 2});
  auto before = backend->current_limits(g);
  REQUIRE(before);
  CHECK(!before->any());

  REQUIRE(backend->apply(g, limits));
  CHECK(test::read_file(t / "cgroup/job1/io.max").find(device + " rbps=4194304 wbps=2097152 riops=300 wiops=200") == 0);
  auto after = backend->current_limits(g);
  REQUIRE(after);
  CHECK(*after == limits);
  CHECK(the_guest(*libvirt).recorded == limits);  // recorded through libvirt all the same
}
