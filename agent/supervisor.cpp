#include "supervisor.hpp"

namespace smartvm::agent {

using Kind = Supervisor::Action::Kind;

Supervisor::Actions Supervisor::started(TimePoint now) {
  if (settings_.timeout.count() > 0) timeout_at_ = now + settings_.timeout;
  if (settings_.heartbeat.count() > 0) heartbeat_at_ = now + settings_.heartbeat;
  return with_deadline({});
}

Supervisor::Actions Supervisor::main_exited(int status, size_t processes_left, TimePoint now) {
  if (main_status_) return {};
  main_status_ = status;
  // The timeout is for the job's own work; what it left behind is stopped regardless.
  timeout_at_.reset();
  heartbeat_at_.reset();
  Actions out;
  if (processes_left > 0) {
    leftovers_ = processes_left;
    out.push_back({Kind::leftovers, {}, 0, processes_left});
    terminate(now, out);
  }
  return with_deadline(std::move(out));
}

Supervisor::Actions Supervisor::stop_requested(int signal, TimePoint now) {
  // The first request counts; one that comes after the end changes nothing.
  if (finished_ || cancelled_by_ != 0) return {};
  cancelled_by_ = signal;
  Actions out{{Kind::cancelled, {}, signal, 0}};
  terminate(now, out);
  return with_deadline(std::move(out));
}

Supervisor::Actions Supervisor::time_passed(TimePoint now) {
  if (finished_) return {};
  Actions out;
  if (timeout_at_ && now >= *timeout_at_) {
    timeout_at_.reset();
    timed_out_ = true;
    out.push_back({Kind::timed_out, {}, 0, 0});
    terminate(now, out);
  }
  if (heartbeat_at_ && now >= *heartbeat_at_) {
    heartbeat_at_ = now + settings_.heartbeat;
    out.push_back({Kind::write_heartbeat, {}, 0, 0});
  }
  if (kill_at_ && now >= *kill_at_) {
    kill_at_ = now + settings_.kill_repeat;
    out.push_back({Kind::kill, {}, 0, 0});
  }
  if (poll_at_ && now >= *poll_at_) {
    poll_at_ = now + settings_.poll;
    out.push_back({Kind::look, {}, 0, 0});
  }
  return with_deadline(std::move(out));
}

Supervisor::Actions Supervisor::processes_gone(TimePoint now) {
  if (!waiting_for_processes()) return {};
  gone_ = true;
  kill_at_.reset();  // nothing left to kill
  // Output may still sit in the pipes, with no EOF to come when the containment holds a copy
  // of their write ends (a systemd unit): look until it is drained.
  if (!poll_at_) poll_at_ = now + settings_.poll;
  return with_deadline({{Kind::release, {}, 0, 0}});
}

Supervisor::Actions Supervisor::output_drained(TimePoint) {
  if (!waiting_for_output()) return {};
  finished_ = true;
  timeout_at_.reset();
  heartbeat_at_.reset();
  kill_at_.reset();
  poll_at_.reset();
  return {{Kind::finish, {}, 0, 0}};
}

// SIGTERM now, SIGKILL after kill_grace, then SIGKILL again until nothing is left.
void Supervisor::terminate(TimePoint now, Actions& out) {
  if (terminating_) return;
  terminating_ = true;
  timeout_at_.reset();
  heartbeat_at_.reset();
  out.push_back({Kind::term, {}, 0, 0});
  kill_at_ = now + settings_.kill_grace;
  poll_at_ = now + settings_.poll;
}

// The earliest of what is due, as the one deadline the runner keeps.
Supervisor::Actions Supervisor::with_deadline(Actions out) const {
  std::optional<TimePoint> next;
  for (const auto& at : {timeout_at_, heartbeat_at_, kill_at_, poll_at_})
    if (at && (!next || *at < *next)) next = at;
  if (next) out.push_back({Kind::arm_deadline, *next, 0, 0});
  return out;
}

}  // namespace smartvm::agent
