#include "catch_result.hpp"
#include "host_stats.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// A /proc tree with what HostStatsSource reads; `busy` and `idle` ticks on the cpu line.
void fake_proc(const test::TempDir& t, uint64_t busy, uint64_t idle, bool psi = true) {
  std::filesystem::create_directories(t / "sys/kernel/random");
  test::write_file(t / "stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) +
                                   " 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n"
                                   "cpu2 1 0 0 1 0 0 0 0 0 0\nintr 1\nctxt 2\n");
  test::write_file(t / "meminfo", "MemTotal:       32000000 kB\nMemFree:         1000 kB\nMemAvailable:   16000000 kB\n");
  test::write_file(t / "loadavg", "1.50 0.75 0.25 2/300 4000\n");
  test::write_file(t / "uptime", "12345.67 40000.00\n");
  test::write_file(t / "sys/kernel/random/boot_id", "0a1b2c3d-0000-4000-8000-000000000001\n");
  if (psi) {
    std::filesystem::create_directories(t / "pressure");
    test::write_file(t / "pressure/cpu", "some avg10=2.50 avg60=1.00 avg300=0.50 total=100\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    test::write_file(t / "pressure/io", "some avg10=42.00 avg60=10.00 avg300=1.00 total=100\nfull avg10=30.25 avg60=0.00 avg300=0.00 total=0\n");
    test::write_file(t / "pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  }
}

}  // namespace

TEST_CASE("nodeld: host stats from a /proc tree, CPU use from the difference of two readings", "[nodeld][host]") {
  test::TempDir t;
  fake_proc(t, 1000, 3000);
  HostStatsSource source(t.path().string());
  auto first = source.collect();
  REQUIRE(first);
  CHECK(first->cpu_cores == 3);
  CHECK(!first->cpu_use_percent);  // nothing to compare with yet
  CHECK(first->memory_total_kib == 32000000);
  CHECK(first->memory_available_kib == 16000000);
  CHECK(first->load[0] == Approx(1.5));
  CHECK(first->load[2] == Approx(0.25));
  REQUIRE(first->pressure_io);
  CHECK(first->pressure_io->some_avg10 == Approx(42.0));
  CHECK(first->pressure_io->full_avg10 == Approx(30.25));
  CHECK(first->pressure_cpu->some_avg10 == Approx(2.5));
  CHECK(first->uptime_seconds == Approx(12345.67));
  CHECK(first->boot_id == "0a1b2c3d-0000-4000-8000-000000000001");

  fake_proc(t, 1000 + 300, 3000 + 100);  // 300 of 400 ticks busy
  auto second = source.collect();
  REQUIRE(second);
  REQUIRE(second->cpu_use_percent);
  CHECK(*second->cpu_use_percent == Approx(75.0));
}

TEST_CASE("nodeld: a kernel without PSI has no pressure, and that is not an error", "[nodeld][host]") {
  test::TempDir t;
  fake_proc(t, 10, 10, false);
  auto s = HostStatsSource(t.path().string()).collect();
  REQUIRE(s);
  CHECK(!s->pressure_cpu);
  CHECK(!s->pressure_io);
}

TEST_CASE("nodeld: unreadable or malformed /proc files are errors naming the file", "[nodeld][host]") {
  test::TempDir t;
  fake_proc(t, 10, 10);
  test::write_file(t / "loadavg", "garbage\n");
  auto bad = HostStatsSource(t.path().string()).collect();
  REQUIRE(!bad);
  CHECK(bad.error().message.find("loadavg") != std::string::npos);
  test::write_file(t / "loadavg", "1 2 3 1/1 1\n");
  test::write_file(t / "pressure/io", "nonsense\n");
  auto psi = HostStatsSource(t.path().string()).collect();
  REQUIRE(!psi);
  CHECK(psi.error().message.find("pressure/io") != std::string::npos);
  std::filesystem::remove(t / "meminfo");
  auto gone = HostStatsSource(t.path().string()).collect();
  REQUIRE(!gone);
  CHECK(gone.error().message.find("meminfo") != std::string::npos);
}

TEST_CASE("nodeld: the real /proc of this machine reads", "[nodeld][host]") {
  HostStatsSource source("/proc");
  auto s = source.collect();
  REQUIRE(s);
  CHECK(s->cpu_cores >= 1);
  CHECK(s->memory_total_kib > 0);
  CHECK(s->boot_id.size() == 36);
}

TEST_CASE("nodeld: CPU use is bounded and needs time to pass", "[nodeld][host]") {
  CHECK(!cpu_use_between({10, 100}, {10, 100}));
  CHECK(!cpu_use_between({10, 100}, {5, 200}));  // counters went back: a different boot
  CHECK(*cpu_use_between({0, 0}, {50, 100}) == Approx(50.0));
  CHECK(!parse_pressure("full avg10=1.00 avg60=0 avg300=0 total=0\n"));
  auto io = parse_pressure("some avg10=2.50 avg60=0.71 avg300=0.33 total=103441923\nfull avg10=1.00 avg60=0 avg300=0 total=75271675\n");
  REQUIRE(io);
  CHECK(io->some_total_us == 103441923u);  // the throttle's one-second pressure comes from its deltas
  CHECK(io->some_avg10 == Approx(2.5));
  unsigned cores = 0;
  CHECK(!parse_proc_stat_cpu("intr 1\n", &cores));
}

TEST_CASE("nodeld: stall share between two PSI readings, the kernel's average only at the first", "[nodeld][host]") {
  using namespace std::chrono_literals;
  auto psi = [](double avg10, uint64_t total_us) {
    auto p = parse_pressure("some avg10=" + std::to_string(avg10) + " avg60=0.00 avg300=0.00 total=" + std::to_string(total_us) +
                            "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    REQUIRE(p);
    return *p;
  };
  StallMeter m;
  std::chrono::steady_clock::time_point t{};
  CHECK(m.update(psi(7.5, 1'000'000), t += 1s) == Approx(7.5));    // nothing to compare with yet
  CHECK(m.update(psi(7.5, 1'250'000), t += 1s) == Approx(25.0));   // 0.25 s stalled of 1 s
  CHECK(m.update(psi(7.5, 1'250'000), t += 2s) == Approx(0.0));    // none since
  CHECK(m.update(psi(7.5, 1'300'000), t += 50ms) == Approx(7.5));  // too short to tell: the average
  CHECK(m.update(psi(7.5, 9'300'000), t += 1s) == Approx(100.0));  // never above all of the time
  CHECK(m.update(psi(3.0, 10), t += 1s) == Approx(3.0));           // a counter that went back starts over
  CHECK(m.update(psi(3.0, 500'010), t += 1s) == Approx(50.0));
}
