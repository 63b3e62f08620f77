// Which static limits a guest gets, how the [throttle] keys are checked, and the cgroup
// backend's files (against fake cgroupfs trees; the real v1 blkio is a root test).
#include "catch_result.hpp"
#include "cgroup_limiter.hpp"
#include "nodeld_config.hpp"
#include "temp_dir.hpp"
#include "throttle_policy.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

LoadedConfig load(const std::string& text) { return load_nodeld_config(IniDocument::parse(text, "nodeld.ini"), false); }

std::string all(const LoadedConfig& c) {
  std::string out;
  for (const auto& d : c.diagnostics) out += d.format() + "\n";
  return out;
}

}  // namespace

TEST_CASE("throttle policy: defaults, then the first matching section, then the domain's metadata", "[nodeld][throttle]") {
  auto c = load(
      "[throttle]\n"
      "mode = static\n"
      "write_bytes_sec = 50M\n"
      "read_iops_sec = 1000\n"
      "[throttle:bigdata-*]\n"
      "write_bytes_sec = 200M\n"
      "[throttle:big*]\n"
      "read_iops_sec = 5\n");
  INFO(all(c));
  REQUIRE(c.diagnostics.empty());
  const NodeldConfig& n = c.config;
  CHECK(n.throttle_mode == ThrottleMode::fixed);
  REQUIRE(n.throttle_sections.size() == 2);

  IoLimits plain = resolve_throttle_policy(n.throttle_limits, n.throttle_sections, "job-17", nullptr);
  CHECK(plain.write_bytes_sec == 50u << 20);
  CHECK(plain.read_iops_sec == 1000);

  IoLimits big = resolve_throttle_policy(n.throttle_limits, n.throttle_sections, "bigdata-3", nullptr);
  CHECK(big.write_bytes_sec == 200u << 20);  // the section's key
  CHECK(big.read_iops_sec == 1000);          // inherited; the second section does not apply too

  auto md = parse_throttle_element("<throttle xmlns=\"http://smartvm.org/xmlns/libvirt/throttle/1\" write_bytes_sec=\"10M\" write_iops_sec=\"300\"/>");
  REQUIRE(md);
  IoLimits own = resolve_throttle_policy(n.throttle_limits, n.throttle_sections, "bigdata-3", &*md);
  CHECK(own.write_bytes_sec == 10u << 20);
  CHECK(own.write_iops_sec == 300);
  CHECK(own.read_iops_sec == 1000);
}

TEST_CASE("throttle policy: bad metadata says which attribute and why", "[nodeld][throttle]") {
  auto bad = parse_throttle_element("<throttle write_bytes_sec=\"fast\"/>");
  REQUIRE(!bad);
  CHECK(bad.error().message.find("write_bytes_sec=\"fast\"") != std::string::npos);
  auto iops = parse_throttle_element("<throttle read_iops_sec=\"10K\"/>");
  REQUIRE(!iops);  // operations take no size suffix
  auto unknown = parse_throttle_element("<throttle total_bytes_sec=\"1\"/>");
  REQUIRE(!unknown);
  CHECK(unknown.error().message.find("unknown attribute total_bytes_sec") != std::string::npos);
  CHECK(!parse_throttle_element("<throttle"));
  // What nodeld records reads back as the same limits.
  auto round = parse_throttle_element(throttle_element("applied", IoLimits{1, 2, 3, 4}));
  REQUIRE(round);
  CHECK(*round->limits[0] == 1);
  CHECK(*round->limits[3] == 4);
}

TEST_CASE("throttle config: bad keys are located by file and line", "[nodeld][throttle][config]") {
  auto c = load(
      "[throttle]\n"
      "backend = cgroup\n"
      "step = 95\n"
      "floor_bytes_sec = little\n"
      "[throttle:web-*]\n"
      "write_bytes_sec = -1\n"
      "burst = 3\n");
  std::string text = all(c);
  INFO(text);
  CHECK(text.find("nodeld.ini:2: [throttle] backend: backend = cgroup needs") != std::string::npos);
  CHECK(text.find("nodeld.ini:3:") != std::string::npos);  // step
  CHECK(text.find("nodeld.ini:4:") != std::string::npos);  // floor
  CHECK(text.find("nodeld.ini:6:") != std::string::npos);  // the section's value
  CHECK(text.find("nodeld.ini:7:") != std::string::npos);  // an unknown key in the section
  auto one_dir = load("[throttle]\nbackend = cgroup\ncgroup = /sys/fs/cgroup/blkio/guests\n");
  CHECK(all(one_dir).find("names one directory for every guest") != std::string::npos);
  auto ok = load("[throttle]\nbackend = cgroup\ncgroup = /sys/fs/cgroup/blkio/machine/%n.libvirt-qemu\n");
  CHECK(ok.diagnostics.empty());
  CHECK(ok.config.throttle_backend == ThrottleBackendKind::cgroup);
  auto relative = load("[throttle]\nmode = static\ndomain_pressure = machine/%n/io.pressure\n");
  CHECK(all(relative).find("nodeld.ini:3: [throttle] domain_pressure: \"machine/%n/io.pressure\" is not an absolute path") !=
        std::string::npos);
  CHECK(all(load("[throttle]\ndomain_pressure = /sys/fs/cgroup/io.pressure\n")).find("with %n, %u or %i in it") != std::string::npos);
  auto pressure = load("[throttle]\ndomain_pressure = /sys/fs/cgroup/machine/qemu-%i-%n.libvirt-qemu/io.pressure\n");
  CHECK(pressure.diagnostics.empty());
  CHECK(pressure.config.domain_pressure == "/sys/fs/cgroup/machine/qemu-%i-%n.libvirt-qemu/io.pressure");
}

TEST_CASE("cgroup backend: io.max of cgroup v2 (fake tree)", "[nodeld][throttle]") {
  test::TempDir t;
  test::write_file(t / "io.max", "");
  std::string dir = t.path().string();
  REQUIRE(apply_cgroup_limits(dir, {{254, 0}}, IoLimits{0, 5 << 20, 0, 100}));
  CHECK(test::read_file(t / "io.max") == "254:0 rbps=max wbps=5242880 riops=max wiops=100");
  auto back = cgroup_limits(dir, {254, 0});
  REQUIRE(back);
  CHECK(*back == IoLimits{0, 5 << 20, 0, 100});
  auto other = cgroup_limits(dir, {8, 0});
  REQUIRE(other);
  CHECK(!other->any());
}

TEST_CASE("cgroup backend: blkio.throttle files of cgroup v1 (fake tree), and what is not a cgroup", "[nodeld][throttle]") {
  test::TempDir t;
  for (const char* f : {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device", "blkio.throttle.read_iops_device",
                        "blkio.throttle.write_iops_device"})
    test::write_file(t / f, "");
  std::string dir = t.path().string();
  REQUIRE(apply_cgroup_limits(dir, {{8, 16}}, IoLimits{1 << 20, 0, 0, 0}));
  CHECK(test::read_file(t / "blkio.throttle.read_bps_device") == "8:16 1048576");
  CHECK(test::read_file(t / "blkio.throttle.write_bps_device") == "8:16 0");  // 0 removes a rule
  auto back = cgroup_limits(dir, {8, 16});
  REQUIRE(back);
  CHECK(back->read_bytes_sec == 1 << 20);

  auto missing = apply_cgroup_limits(dir + "/nope", {{8, 16}}, IoLimits{1, 0, 0, 0});
  REQUIRE(!missing);
  CHECK(missing.error().message.find("does not exist") != std::string::npos);
  test::TempDir empty;
  auto neither = apply_cgroup_limits(empty.path().string(), {{8, 16}}, IoLimits{1, 0, 0, 0});
  REQUIRE(!neither);
  CHECK(neither.error().message.find("neither io.max") != std::string::npos);
}

TEST_CASE("cgroup backend: the cgroup of a guest and the disk behind an image", "[nodeld][throttle]") {
  CHECK(expand_cgroup_template("/sys/fs/cgroup/blkio/machine/qemu-%i-%n.libvirt-qemu", "job", "u", 7) ==
        "/sys/fs/cgroup/blkio/machine/qemu-7-job.libvirt-qemu");
  CHECK(expand_cgroup_template("/x/%u/100%%", "n", "abc", 1) == "/x/abc/100%");

  // A partition is traded for its disk: a fake sysfs where 8:17 is sdb1 of sdb (8:16).
  test::TempDir sys;
  std::filesystem::create_directories(sys / "block/sdb/sdb1");
  test::write_file(sys / "block/sdb/dev", "8:16\n");
  test::write_file(sys / "block/sdb/sdb1/partition", "1\n");
  std::filesystem::create_directories(sys / "dev/block");
  test::TempDir images;
  test::write_file(images / "disk.img", "x");
  struct stat st {};
  REQUIRE(stat((images / "disk.img").c_str(), &st) == 0);
  std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  if (major(st.st_dev) == 0) {
    CHECK(!block_device_of((images / "disk.img").string(), sys.path().string()));  // tmpfs, overlay: no disk
    return;
  }
  std::filesystem::create_directory_symlink(sys / "block/sdb/sdb1", sys / ("dev/block/" + dev));
  auto d = block_device_of((images / "disk.img").string(), sys.path().string());
  REQUIRE(d);
  CHECK(d->text() == "8:16");
  CHECK(!block_device_of((images / "missing.img").string(), sys.path().string()));
}

TEST_CASE("cgroup backend: I/O accounting is switched on without limiting anything (fake trees)", "[nodeld][throttle]") {
  const char* files[] = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                         "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
  test::TempDir v1, limited;
  for (const char* f : files) test::write_file(v1 / f, ""), test::write_file(limited / f, "");
  REQUIRE(enable_io_accounting(v1.path().string(), {8, 16}));
  CHECK(test::read_file(v1 / "blkio.throttle.read_bps_device") == "8:16 0");  // "none": activates, limits nothing

  // A read limit is a rule already: nothing to write, nothing removed.
  test::write_file(limited / "blkio.throttle.read_bps_device", "8:16 1048576\n");
  REQUIRE(enable_io_accounting(limited.path().string(), {8, 16}));
  CHECK(test::read_file(limited / "blkio.throttle.read_bps_device") == "8:16 1048576\n");

  test::TempDir v2;  // io.stat counts regardless
  test::write_file(v2 / "io.max", "");
  REQUIRE(enable_io_accounting(v2.path().string(), {8, 16}));
  CHECK(test::read_file(v2 / "io.max").empty());
}
