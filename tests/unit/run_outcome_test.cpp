// What smartvm-run makes of a job's end: the agent's record over the channel, the host's own
// stop (wall time, a signal), and a domain that ended with no record at all.
#include "run_outcome.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

using namespace smartvm;
using namespace smartvm::launcher;

namespace {
std::string record(JobState state, std::optional<int> code, const std::string& error = "") {
  StatusRecord r;
  r.state = state;
  r.exit_code = code;
  r.error = error;
  r.containment = "cgroup";
  return format_status(r);
}

HostView stopped(HostView::Stop why, std::string channel = "", bool destroyed = true) {
  HostView v;
  v.stop = why;
  v.signal = why == HostView::Stop::signal || why == HostView::Stop::slurm_time_limit ? SIGTERM : 0;
  v.wall_time = std::chrono::seconds(8);
  v.destroyed = destroyed;
  v.channel_text = std::move(channel);
  v.started_at = StatusRecord::Clock::now() - std::chrono::seconds(10);
  v.finished_at = StatusRecord::Clock::now();
  return v;
}
}  // namespace

TEST_CASE("the agent's record decides the exit status, as timeout(1) would", "[launcher][outcome]") {
  auto with = [](const std::string& text) {
    HostView v;
    v.channel_text = text;
    return decide_outcome(v);
  };
  JobOutcome ok = with(record(JobState::succeeded, 0));
  CHECK(ok.exit_status == 0);
  CHECK(ok.from_guest);
  CHECK(ok.record.containment == "cgroup");
  CHECK(with(record(JobState::failed, 3)).exit_status == 3);
  CHECK(with(record(JobState::signaled, 128 + 11)).exit_status == 139);
  CHECK(with(record(JobState::timed_out, std::nullopt)).exit_status == kExitTimedOut);
  JobOutcome setup = with(record(JobState::setup_failed, std::nullopt, "mount repository: no such tag"));
  CHECK(setup.exit_status == kExitSetupFailed);
  CHECK(setup.record.error == "mount repository: no such tag");
  CHECK(with(record(JobState::cancelled, std::nullopt)).exit_status == 128 + SIGTERM);
}

TEST_CASE("a domain that ended without a record is a failure, said so", "[launcher][outcome]") {
  HostView v;
  v.ended = "the guest shut down";
  JobOutcome o = decide_outcome(v);
  CHECK(o.exit_status == kExitSetupFailed);
  CHECK_FALSE(o.from_guest);
  CHECK(o.record.state == JobState::failed);
  CHECK(o.record.error == "the domain ended without a status record (the guest shut down before the agent sent one)");

  v.channel_text = "state=exploded\n";
  o = decide_outcome(v);
  CHECK(o.exit_status == kExitSetupFailed);
  CHECK(o.record.error.find("what came over the status channel is not a record") != std::string::npos);
}

TEST_CASE("the host's wall time and a signal: the host's record, or the agent's with the host's state",
          "[launcher][outcome]") {
  JobOutcome timed = decide_outcome(stopped(HostView::Stop::wall_time));
  CHECK(timed.exit_status == kExitTimedOut);
  CHECK(timed.record.state == JobState::timed_out);
  CHECK(timed.record.error ==
        "the wall time of 8 s ran out: the host shut the domain down and it did not power off within the grace and "
        "was destroyed; no status record came from the guest");
  CHECK(timed.record.wall_seconds >= 9.9);

  JobOutcome term = decide_outcome(stopped(HostView::Stop::signal));
  CHECK(term.exit_status == 128 + SIGTERM);
  CHECK(term.record.state == JobState::cancelled);
  CHECK(term.record.error.rfind("smartvm-run got SIGTERM: ", 0) == 0);

  // The agent saw the shutdown and recorded cancelled: its record, with the host's reason.
  JobOutcome agent = decide_outcome(
      stopped(HostView::Stop::wall_time, record(JobState::cancelled, std::nullopt, "stopped while running"), false));
  CHECK(agent.from_guest);
  CHECK(agent.exit_status == kExitTimedOut);
  CHECK(agent.record.state == JobState::timed_out);
  CHECK(agent.record.containment == "cgroup");
  CHECK(agent.record.error.find("it powered off (the agent recorded: cancelled: stopped while running)") !=
        std::string::npos);

  // The job finished as the host's stop came: its own result stands.
  JobOutcome raced = decide_outcome(stopped(HostView::Stop::signal, record(JobState::failed, 3), false));
  CHECK(raced.exit_status == 3);
  CHECK(raced.record.state == JobState::failed);
}

TEST_CASE("Slurm's time limit (its SIGTERM, Slurm's reason TimeLimit): timed out, as the host's wall time",
          "[launcher][outcome][slurm]") {
  // The agent saw the shutdown and recorded cancelled: the host's record says timed_out, 124.
  JobOutcome agent = decide_outcome(stopped(HostView::Stop::slurm_time_limit,
                                            record(JobState::cancelled, std::nullopt, "the agent received SIGTERM"), false));
  CHECK(agent.from_guest);
  CHECK(agent.exit_status == kExitTimedOut);
  CHECK(agent.record.state == JobState::timed_out);
  CHECK(agent.record.error ==
        "the Slurm job's time limit ran out (smartvm-run got SIGTERM): the host shut the domain down and it powered off "
        "(the agent recorded: cancelled: the agent received SIGTERM)");
  // No record from the guest: the host's own.
  JobOutcome host = decide_outcome(stopped(HostView::Stop::slurm_time_limit));
  CHECK_FALSE(host.from_guest);
  CHECK(host.exit_status == kExitTimedOut);
  CHECK(host.record.state == JobState::timed_out);
  // The job finished as Slurm's SIGTERM came: its own result stands.
  CHECK(decide_outcome(stopped(HostView::Stop::slurm_time_limit, record(JobState::succeeded, 0), false)).exit_status == 0);
}
