// The cgroup limiter on fake cgroup trees whose paths fail in the ways a real one can (a symlink
// loop, a cgroup removed meanwhile): every call returns an error naming the path and never
// throws, since it runs on the throttler's worker thread.
#include "catch_result.hpp"
#include "cgroup_limiter.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>

using namespace smartvm;
using namespace smartvm::nodeld;

TEST_CASE("cgroup limiter: a path that loops is an error naming it, not an exception", "[throttle][cgroup]") {
  test::TempDir t;
  std::string dir = (t / "job-a").string();
  std::filesystem::create_directories(dir);
  REQUIRE(symlink("io.max", (dir + "/io.max").c_str()) == 0);  // io.max -> io.max: ELOOP
  auto counters = cgroup_io_counters(dir);
  REQUIRE(!counters);
  CHECK(counters.error().message.find(dir + "/io.max") != std::string::npos);
  auto limits = cgroup_limits(dir, BlockDevice{8, 0});
  REQUIRE(!limits);
  CHECK(limits.error().message.find(dir + "/io.max") != std::string::npos);
  auto applied = apply_cgroup_limits(dir, {BlockDevice{8, 0}}, IoLimits{0, 1 << 20, 0, 0});
  REQUIRE(!applied);
  CHECK(applied.error().message.find(dir + "/io.max") != std::string::npos);
}

TEST_CASE("cgroup limiter: a cgroup that is itself a loop, or gone, is an error", "[throttle][cgroup]") {
  test::TempDir t;
  std::string loop = (t / "loop").string();
  REQUIRE(symlink("loop", loop.c_str()) == 0);
  auto applied = apply_cgroup_limits(loop, {BlockDevice{8, 0}}, IoLimits{});
  REQUIRE(!applied);
  CHECK(applied.error().message.find(loop) != std::string::npos);
  auto gone = apply_cgroup_limits((t / "gone").string(), {BlockDevice{8, 0}}, IoLimits{});
  REQUIRE(!gone);
  CHECK(gone.error().message == "cgroup " + (t / "gone").string() + " does not exist");
  auto counters = cgroup_io_counters((t / "gone").string());
  REQUIRE(!counters);  // neither io.max nor blkio files: the v1 read names its file
}

TEST_CASE("cgroup limiter: a block device whose sysfs node loops is an error", "[throttle][cgroup]") {
  test::TempDir t;
  // /proc/self/exe is on some block device (or not, then that is the error); its sysfs node in
  // the fake tree is a directory whose "partition" loops.
  struct stat st {};
  REQUIRE(stat("/proc/self/exe", &st) == 0);
  if (major(st.st_dev) == 0) {
    WARN("the test binary is on no block device (overlay, tmpfs): nothing to check here");
    return;
  }
  std::string node = (t / ("dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)))).string();
  std::filesystem::create_directories(node);
  REQUIRE(symlink("partition", (node + "/partition").c_str()) == 0);
  auto dev = block_device_of("/proc/self/exe", t.path().string());
  REQUIRE(!dev);
  CHECK(dev.error().message.find("/partition: ") != std::string::npos);
}
