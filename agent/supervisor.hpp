// The rules of a job's supervision, as a state machine with no clock and no processes of its
// own: the runner (job_runner.cpp) feeds it what happened and when, and carries out the
// actions it returns. Pure, so that the timing rules are tested without root and without
// waiting (tests pass a fake clock's time).
//
// The rules: the job gets `timeout` from its start; past it, or when the agent is asked to
// stop, the job gets SIGTERM, and SIGKILL after `kill_grace`, repeated every `kill_repeat`
// until no process of the job is left. When the job's main process exits and processes of it
// remain, they get the same treatment. The job is finished once its main process has exited,
// none of its processes is left and its output is drained. While the job is being stopped or
// drained, the runner is asked to look every `poll` (a cgroup emptying sends no signal).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace smartvm::agent {

struct SupervisorSettings {
  std::chrono::seconds timeout{0};  // 0: none
  std::chrono::seconds kill_grace{10};
  std::chrono::seconds heartbeat{0};  // 0: none
  std::chrono::milliseconds kill_repeat{100};
  std::chrono::milliseconds poll{20};
};

class Supervisor {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Action {
    enum class Kind {
      term,             // send SIGTERM to every process of the job
      kill,             // send SIGKILL to every process of the job
      arm_deadline,     // call time_passed() at `at` (replaces the previous deadline)
      write_heartbeat,  // the job runs: say so
      look,             // check whether the job's processes are gone and its output drained
      timed_out,        // the timeout passed: the job is being stopped
      cancelled,        // the agent was asked to stop (by `signal`): the job is being stopped
      leftovers,        // `count` processes outlived the main process: they are being stopped
      release,          // nothing of the job runs any more: let go of its containment
      finish,           // done: stop the loop
    };
    Kind kind;
    TimePoint at{};
    int signal = 0;
    size_t count = 0;

    bool operator==(const Action&) const = default;
  };
  using Actions = std::vector<Action>;

  explicit Supervisor(SupervisorSettings settings) : settings_(settings) {}

  // The events, each with the time it happened.
  Actions started(TimePoint now);
  Actions main_exited(int status, size_t processes_left, TimePoint now);
  Actions stop_requested(int signal, TimePoint now);
  Actions time_passed(TimePoint now);
  // After the main process exited: no process of the job is left.
  Actions processes_gone(TimePoint now);
  // After processes_gone: the job's output is all copied.
  Actions output_drained(TimePoint now);

  bool main_has_exited() const { return main_status_.has_value(); }
  int main_status() const { return main_status_.value_or(0); }
  // Waiting for the job's processes to go (the main process has exited).
  bool waiting_for_processes() const { return main_status_ && !gone_; }
  // Waiting for the output to drain (no process of the job is left).
  bool waiting_for_output() const { return gone_ && !finished_; }
  bool finished() const { return finished_; }
  bool timed_out() const { return timed_out_; }
  int cancelled_by() const { return cancelled_by_; }
  size_t leftovers() const { return leftovers_; }

 private:
  void terminate(TimePoint now, Actions& out);
  Actions with_deadline(Actions out) const;

  SupervisorSettings settings_;
  std::optional<int> main_status_;
  bool terminating_ = false, gone_ = false, finished_ = false, timed_out_ = false;
  int cancelled_by_ = 0;
  size_t leftovers_ = 0;
  // What is due when; unset when nothing of that kind is.
  std::optional<TimePoint> timeout_at_, heartbeat_at_, kill_at_, poll_at_;
};

}  // namespace smartvm::agent
