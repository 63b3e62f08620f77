// The collector with scripted sources standing in for what the test driver cannot do: a
// hypervisor that hangs, one that fails. The report must still go out on time.
#include "catch_result.hpp"
#include "collector.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <mutex>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

// A gate a source waits at until the test opens it.
struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock l(m);
    cv.wait(l, [&] { return open; });
  }
  void release() {
    std::lock_guard l(m);
    open = true;
    cv.notify_all();
  }
};

HostStats host() {
  HostStats h;
  h.cpu_cores = 8;
  return h;
}

HypervisorStats hypervisor(int n) {
  HypervisorStats h;
  h.cpu_cores = 32;
  h.domains.resize(size_t(n));
  return h;
}

Snapshot run_cycle(boost::asio::io_context& io, Collector& c, std::chrono::milliseconds deadline, double* seconds = nullptr) {
  Snapshot out;
  bool done = false;
  auto start = std::chrono::steady_clock::now();
  REQUIRE(c.collect(deadline, [&](Snapshot s) {
    out = std::move(s);
    done = true;
  }));
  io.restart();
  while (!done) io.run_one();
  if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace

TEST_CASE("nodeld: a hanging hypervisor marks only its own part stale, and the report is on time", "[nodeld][collector]") {
  boost::asio::io_context io;
  Gate gate;
  std::atomic<int> calls{0};
  std::atomic<bool> hang{false};
  Collector c(io, {[] { return Result<HostStats>(host()); },
                   [&]() -> Result<HypervisorStats> {
                     ++calls;
                     if (hang) gate.wait();
                     return hypervisor(calls);
                   },
                   [] { return Result<std::vector<RdmaPort>>(std::vector<RdmaPort>{}); }});
  auto fresh = run_cycle(io, c, std::chrono::milliseconds(500));
  CHECK(fresh.stale.empty());
  REQUIRE(fresh.hypervisor);
  CHECK(fresh.hypervisor->domains.size() == 1);

  hang = true;
  double seconds = 0;
  auto late = run_cycle(io, c, std::chrono::milliseconds(200), &seconds);
  CHECK(seconds < 1.0);  // the deadline, not the hang
  REQUIRE(late.stale.count("libvirt"));
  CHECK(late.stale["libvirt"].error == "no answer within the deadline");
  CHECK(late.stale["libvirt"].age_seconds >= 0);
  CHECK(!late.stale.count("host"));
  REQUIRE(late.host);
  REQUIRE(late.hypervisor);  // the last good data stays, marked stale
  CHECK(late.hypervisor->domains.size() == 1);

  // Still hanging: the worker is not asked again, and the report says why.
  auto still = run_cycle(io, c, std::chrono::milliseconds(200));
  REQUIRE(still.stale.count("libvirt"));
  CHECK(still.stale["libvirt"].error.find("still busy") != std::string::npos);
  CHECK(calls == 2);

  hang = false;
  gate.release();
  while (c.any_busy()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The late answer lands (now or during the next cycle, before that cycle's own answer: one
  // worker answers in order) and is kept; the next cycle asks again and is fresh.
  auto back = run_cycle(io, c, std::chrono::milliseconds(500));
  CHECK(back.stale.empty());
  CHECK(back.hypervisor->domains.size() == 3);
}

TEST_CASE("nodeld: a failing source says its error and the age of its last good answer", "[nodeld][collector]") {
  boost::asio::io_context io;
  std::atomic<bool> fail{false};
  Collector c(io, {[] { return Result<HostStats>(host()); },
                   [&]() -> Result<HypervisorStats> {
                     if (fail) return make_error("cannot connect to qemu:///system: no socket");
                     return hypervisor(2);
                   },
                   nullptr});
  auto good = run_cycle(io, c, std::chrono::milliseconds(500));
  CHECK(good.stale.empty());
  CHECK(!good.rdma);  // a source that is not there is not stale either
  fail = true;
  auto bad = run_cycle(io, c, std::chrono::milliseconds(500));
  REQUIRE(bad.stale.count("libvirt"));
  CHECK(bad.stale["libvirt"].error == "cannot connect to qemu:///system: no socket");
  CHECK(bad.stale["libvirt"].age_seconds == 0);
  REQUIRE(bad.hypervisor);
  CHECK(bad.hypervisor->domains.size() == 2);
}

TEST_CASE("nodeld: a source that never answered has no data and no age", "[nodeld][collector]") {
  boost::asio::io_context io;
  Collector c(io, {[] { return Result<HostStats>(host()); },
                   []() -> Result<HypervisorStats> { return make_error("libvirtd is not running"); }, nullptr});
  auto s = run_cycle(io, c, std::chrono::milliseconds(500));
  REQUIRE(s.stale.count("libvirt"));
  CHECK(s.stale["libvirt"].age_seconds == -1);
  CHECK(!s.hypervisor);
}

TEST_CASE("nodeld: a source that throws is that source's error, and the worker goes on with the next cycle",
          "[nodeld][collector]") {
  boost::asio::io_context io;
  std::atomic<bool> fail{true};
  Collector c(io, {[] { return Result<HostStats>(host()); },
                   [&]() -> Result<HypervisorStats> {
                     if (fail) throw std::runtime_error("filesystem error: cannot get file status: Too many levels of symbolic links");
                     return hypervisor(1);
                   },
                   nullptr});
  auto bad = run_cycle(io, c, std::chrono::milliseconds(2000));
  REQUIRE(bad.stale.count("libvirt"));
  CHECK(bad.stale["libvirt"].error == "libvirt source: unexpected failure: filesystem error: cannot get file status: Too many "
                                      "levels of symbolic links");
  CHECK(bad.host);
  fail = false;
  auto good = run_cycle(io, c, std::chrono::milliseconds(2000));
  CHECK(good.stale.empty());
  REQUIRE(good.hypervisor);
  CHECK(good.hypervisor->domains.size() == 1);
}
