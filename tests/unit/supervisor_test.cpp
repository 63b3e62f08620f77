// The job's supervision rules (timeout, SIGTERM, kill grace, SIGKILL, leftovers, drain), driven
// by a fake clock: what the root tests can only show with real processes and real waits.
#include "supervisor.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>

using namespace smartvm::agent;
using namespace std::chrono_literals;
using Kind = Supervisor::Action::Kind;

namespace {

// A clock that moves only when the test says so, and a supervisor driven by it: each event is
// fed at the clock's time, and the deadline the supervisor asks for is remembered, as the
// runner's one timer would.
struct Harness {
  Supervisor sup;
  Supervisor::TimePoint now{};  // the fake clock
  std::optional<Supervisor::TimePoint> deadline;
  std::vector<Kind> seen;  // every action but arm_deadline, in order

  explicit Harness(SupervisorSettings s) : sup(s) {}

  void take(const Supervisor::Actions& actions) {
    for (const auto& a : actions) {
      if (a.kind == Kind::arm_deadline)
        deadline = a.at;
      else
        seen.push_back(a.kind);
    }
  }
  // Advances the clock by `d`, firing the deadline each time it is reached, as the loop would.
  void advance(std::chrono::milliseconds d) {
    auto end = now + d;
    while (deadline && *deadline <= end) {
      now = *deadline;
      deadline.reset();
      take(sup.time_passed(now));
    }
    now = end;
  }
  size_t count(Kind k) const { return static_cast<size_t>(std::count(seen.begin(), seen.end(), k)); }
  bool saw(Kind k) const { return count(k) > 0; }
};

SupervisorSettings settings(std::chrono::seconds timeout, std::chrono::seconds grace,
                              std::chrono::seconds heartbeat = std::chrono::seconds(0)) {
  SupervisorSettings s;
  s.timeout = timeout;
  s.kill_grace = grace;
  s.heartbeat = heartbeat;
  return s;
}

}  // namespace

TEST_CASE("a job that ends in time, with nothing left, finishes once its output is drained", "[supervisor]") {
  Harness h(settings(10s, 2s));
  h.take(h.sup.started(h.now));
  REQUIRE(h.deadline == h.now + 10s);
  h.advance(3s);
  h.take(h.sup.main_exited(0, 0, h.now));
  CHECK(h.sup.waiting_for_processes());
  h.take(h.sup.processes_gone(h.now));
  CHECK(h.seen == std::vector<Kind>{Kind::release});
  CHECK(!h.sup.finished());
  h.take(h.sup.output_drained(h.now));
  CHECK(h.sup.finished());
  CHECK(h.seen.back() == Kind::finish);
  CHECK(!h.sup.timed_out());
  CHECK(!h.saw(Kind::term));
}

TEST_CASE("a job past its timeout gets SIGTERM, and SIGKILL only after the grace", "[supervisor]") {
  Harness h(settings(5s, 2s));
  h.take(h.sup.started(h.now));
  h.advance(4999ms);
  CHECK(!h.saw(Kind::term));
  h.advance(1ms);
  CHECK(h.sup.timed_out());
  CHECK(h.saw(Kind::timed_out));
  CHECK(h.count(Kind::term) == 1);
  h.advance(1999ms);
  CHECK(!h.saw(Kind::kill));
  // The job ignores SIGTERM: SIGKILL at the grace's end, then again every 100 ms until it is gone.
  h.advance(1ms);
  CHECK(h.count(Kind::kill) == 1);
  h.advance(300ms);
  CHECK(h.count(Kind::kill) == 4);
  h.take(h.sup.main_exited(W_EXITCODE(0, SIGKILL), 0, h.now));
  h.take(h.sup.processes_gone(h.now));
  h.advance(1s);
  CHECK(h.count(Kind::kill) == 4);  // nothing is left to kill
  h.take(h.sup.output_drained(h.now));
  CHECK(h.sup.finished());
  CHECK(h.sup.timed_out());
  CHECK(h.sup.main_status() == W_EXITCODE(0, SIGKILL));
}

TEST_CASE("a job that exits during the grace gets no SIGKILL", "[supervisor]") {
  Harness h(settings(1s, 5s));
  h.take(h.sup.started(h.now));
  h.advance(1s);
  REQUIRE(h.count(Kind::term) == 1);
  h.advance(2s);
  h.take(h.sup.main_exited(W_EXITCODE(0, SIGTERM), 0, h.now));
  h.take(h.sup.processes_gone(h.now));
  h.take(h.sup.output_drained(h.now));
  h.advance(10s);
  CHECK(h.sup.finished());
  CHECK(!h.saw(Kind::kill));
  CHECK(h.count(Kind::term) == 1);
  CHECK(h.sup.timed_out());
  CHECK(!h.deadline);  // nothing more is due
}

TEST_CASE("the timeout does not apply once the main process has exited: not during the drain", "[supervisor]") {
  Harness h(settings(2s, 1s));
  h.take(h.sup.started(h.now));
  h.advance(1s);
  h.take(h.sup.main_exited(0, 0, h.now));
  h.take(h.sup.processes_gone(h.now));
  // The output takes long to drain (a slow repository): the timeout passes meanwhile.
  h.advance(5s);
  CHECK(!h.sup.finished());
  CHECK(h.sup.waiting_for_output());
  CHECK(!h.sup.timed_out());
  CHECK(!h.saw(Kind::term));
  CHECK(h.saw(Kind::look));  // the runner is asked to look at the pipes meanwhile
  h.take(h.sup.output_drained(h.now));
  CHECK(h.sup.finished());
}

TEST_CASE("processes left after the main process exits are stopped, and counted", "[supervisor]") {
  Harness h(settings(0s, 3s));
  h.take(h.sup.started(h.now));
  CHECK(!h.deadline);  // no timeout, no heartbeat: nothing due
  h.advance(1h);
  h.take(h.sup.main_exited(0, 2, h.now));
  CHECK(h.sup.leftovers() == 2);
  CHECK(h.seen == std::vector<Kind>{Kind::leftovers, Kind::term});
  // Until they are gone the job is not finished, whatever the output says.
  h.take(h.sup.output_drained(h.now));
  CHECK(!h.sup.finished());
  h.advance(3s);
  CHECK(h.count(Kind::kill) == 1);
  h.take(h.sup.processes_gone(h.now));
  h.take(h.sup.output_drained(h.now));
  CHECK(h.sup.finished());
  CHECK(!h.sup.timed_out());
  CHECK(h.sup.cancelled_by() == 0);
}

TEST_CASE("a stop request before the timeout cancels the job, and a later timeout changes nothing", "[supervisor]") {
  Harness h(settings(5s, 2s));
  h.take(h.sup.started(h.now));
  h.advance(1s);
  h.take(h.sup.stop_requested(SIGTERM, h.now));
  CHECK(h.sup.cancelled_by() == SIGTERM);
  CHECK(h.seen == std::vector<Kind>{Kind::cancelled, Kind::term});
  h.advance(10s);  // past the timeout: the job ignores SIGTERM and is being killed
  CHECK(!h.sup.timed_out());
  CHECK(h.count(Kind::term) == 1);
  CHECK(h.saw(Kind::kill));
  // A second request is no news.
  h.take(h.sup.stop_requested(SIGINT, h.now));
  CHECK(h.sup.cancelled_by() == SIGTERM);
  CHECK(h.count(Kind::cancelled) == 1);
}

TEST_CASE("a stop request after the timeout is recorded, and stops nothing twice", "[supervisor]") {
  Harness h(settings(1s, 5s));
  h.take(h.sup.started(h.now));
  h.advance(2s);
  REQUIRE(h.sup.timed_out());
  h.take(h.sup.stop_requested(SIGTERM, h.now));
  CHECK(h.sup.timed_out());
  CHECK(h.sup.cancelled_by() == SIGTERM);
  CHECK(h.count(Kind::term) == 1);
  // The grace still counts from the timeout, not from the request.
  h.advance(3999ms);
  CHECK(!h.saw(Kind::kill));
  h.advance(1ms);
  CHECK(h.saw(Kind::kill));
}

TEST_CASE("a stop request after the job finished changes nothing", "[supervisor]") {
  Harness h(settings(0s, 1s));
  h.take(h.sup.started(h.now));
  h.take(h.sup.main_exited(0, 0, h.now));
  h.take(h.sup.processes_gone(h.now));
  h.take(h.sup.output_drained(h.now));
  REQUIRE(h.sup.finished());
  CHECK(h.sup.stop_requested(SIGTERM, h.now).empty());
  CHECK(h.sup.cancelled_by() == 0);
}

TEST_CASE("the heartbeat is due every interval while the main process runs, and not after", "[supervisor]") {
  Harness h(settings(0s, 1s, 2s));
  h.take(h.sup.started(h.now));
  h.advance(5s);
  CHECK(h.count(Kind::write_heartbeat) == 2);
  h.take(h.sup.main_exited(0, 0, h.now));
  h.advance(10s);
  CHECK(h.count(Kind::write_heartbeat) == 2);
}

TEST_CASE("the heartbeat stops while the job is being stopped", "[supervisor]") {
  Harness h(settings(3s, 10s, 1s));
  h.take(h.sup.started(h.now));
  h.advance(3s);
  size_t beats = h.count(Kind::write_heartbeat);
  CHECK(beats >= 2);
  REQUIRE(h.sup.timed_out());
  h.advance(5s);
  CHECK(h.count(Kind::write_heartbeat) == beats);
}

TEST_CASE("while the job is stopped the runner is asked to look every poll interval", "[supervisor]") {
  Harness h(settings(0s, 10s));
  h.take(h.sup.started(h.now));
  h.take(h.sup.stop_requested(SIGINT, h.now));
  h.advance(100ms);
  CHECK(h.count(Kind::look) == 5);
}
