#include "job_runner.hpp"

#include "job_launch.hpp"
#include "job_outcome.hpp"
#include "output_pump.hpp"
#include "stop_signals.hpp"
#include "supervisor.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <optional>

namespace smartvm::agent {
namespace asio = boost::asio;

namespace {

SupervisorSettings supervisor_settings(const JobSpec& spec) {
  SupervisorSettings s;
  s.timeout = spec.timeout;
  s.kill_grace = spec.kill_grace;
  s.heartbeat = spec.heartbeat;
  return s;
}

class JobRun {
 public:
  JobRun(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws, const RunnerSettings& settings)
      : spec_(spec), creds_(creds), ws_(ws), settings_(settings), supervisor_(supervisor_settings(spec)) {}

  StatusRecord run() {
    record_.started_at = StatusRecord::Clock::now();
    steady_start_ = std::chrono::steady_clock::now();
    if (auto r = start(); !r) {
      record_.state = JobState::setup_failed;
      record_.error = "start job: " + r.error().message;
      finish_times();
      return record_;
    }
    io_.run();
    finish_times();
    build_record();
    return record_;
  }

 private:
  Result<void> start() {
    auto prepared = prepare_launch(spec_, creds_, ws_);
    if (!prepared) return prepared.error();
    JobLaunch& launch = *prepared;
    auto out_file = open_job_output(ws_, spec_, creds_, spec_.stdout_path, "[job] stdout");
    if (!out_file) return out_file.error();
    stdout_file_ = std::move(*out_file);
    bool shared = spec_.stderr_path == spec_.stdout_path;
    if (!shared) {
      auto err_file = open_job_output(ws_, spec_, creds_, spec_.stderr_path, "[job] stderr");
      if (!err_file) return err_file.error();
      stderr_file_ = std::move(*err_file);
    }
    int out_pipe[2], err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || (!shared && pipe2(err_pipe, O_CLOEXEC) != 0)) return os_error("create pipes");
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]), err_r(err_pipe[0]), err_w(err_pipe[1]);
    UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull.valid()) return os_error("open /dev/null");
    launch.stdin_fd = devnull.get();
    launch.stdout_fd = out_w.get();
    launch.stderr_fd = shared ? out_w.get() : err_w.get();

    containment_ = make_containment(settings_, settings_.events);
    Containment::Hooks hooks;
    hooks.main_exited = [this](int status) {
      // The main process's end is when the job finished; what follows is cleaning up.
      finished_ = std::chrono::steady_clock::now();
      record_.finished_at = StatusRecord::Clock::now();
      act(supervisor_.main_exited(status, containment_->process_count(), now()));
    };
    hooks.changed = [this] { look(); };
    hooks.events = settings_.events;
    auto pid = containment_->start(launch, io_, std::move(hooks));
    record_.containment = containment_->name();
    if (!pid) return pid.error();
    pid_ = *pid;
    out_w.reset();
    err_w.reset();
    say(log::Level::info,
         "job started as pid " + std::to_string(pid_) + containment_->where() + ": " + launch.argv[0]);

    stdout_pump_.emplace(io_, std::move(out_r), stdout_file_.get(), spec_.output_limit, "stdout");
    stdout_pump_->start([this] { look(); });
    if (!shared) {
      stderr_pump_.emplace(io_, std::move(err_r), stderr_file_.get(), spec_.output_limit, "stderr");
      stderr_pump_->start([this] { look(); });
    }
    stop_signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (!ec) act(supervisor_.stop_requested(sig, now()));
    });
    // SIGTERM and SIGINT stay blocked during setup (see main.cpp); the signal_set takes them
    // from here on, including one that is already pending.
    sigset_t stop = stop_signals();
    sigprocmask(SIG_UNBLOCK, &stop, nullptr);
    act(supervisor_.started(now()));
    return {};
  }

  static Supervisor::TimePoint now() { return std::chrono::steady_clock::now(); }
  void say(log::Level level, const std::string& message) const { tell(settings_.events, level, message); }

  // Carries out what the supervisor decided.
  void act(const Supervisor::Actions& actions) {
    using Kind = Supervisor::Action::Kind;
    for (const Supervisor::Action& a : actions) {
      switch (a.kind) {
        case Kind::term: containment_->signal(SIGTERM); break;
        case Kind::kill: containment_->signal(SIGKILL); break;
        case Kind::arm_deadline:
          if (supervisor_.finished()) break;  // a look just now ended the job
          deadline_.expires_at(a.at);
          deadline_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) act(supervisor_.time_passed(now()));
          });
          break;
        case Kind::write_heartbeat: heartbeat(); break;
        case Kind::look: look(); break;
        case Kind::timed_out:
          say(log::Level::warning,
              "the job exceeded its timeout of " + std::to_string(spec_.timeout.count()) + " s: stopping it");
          break;
        case Kind::cancelled: say(log::Level::warning, "received " + signal_name(a.signal) + ": stopping the job"); break;
        case Kind::leftovers:
          record_.leftover_processes = a.count;
          say(log::Level::warning,
              std::to_string(a.count) + " process(es) of the job still running after it ended: stopping them");
          break;
        case Kind::release: containment_->release(); break;
        case Kind::finish:
          deadline_.cancel();
          stop_signals_.cancel();
          containment_->stop_watching();
          break;
      }
    }
  }

  // Tells the supervisor what changed: the job's processes gone, its output drained.
  void look() {
    if (supervisor_.waiting_for_processes() && containment_->empty()) act(supervisor_.processes_gone(now()));
    if (!supervisor_.waiting_for_output()) return;
    if (containment_->holds_output_writers())
      for (OutputPump* p : pumps())
        if (p) p->close_if_drained();
    for (OutputPump* p : pumps())
      if (p && !p->eof()) return;
    act(supervisor_.output_drained(now()));
  }

  std::array<OutputPump*, 2> pumps() {
    return {stdout_pump_ ? &*stdout_pump_ : nullptr, stderr_pump_ ? &*stderr_pump_ : nullptr};
  }

  void heartbeat() {
    auto r = write_heartbeat(ws_, pid_, *record_.started_at, containment_->cpu_seconds());
    if (settings_.heartbeat_outcome) settings_.heartbeat_outcome(r ? std::string() : r.error().message);
  }

  void finish_times() {
    if (!record_.finished_at) {
      record_.finished_at = StatusRecord::Clock::now();
      finished_ = std::chrono::steady_clock::now();
    }
    record_.wall_seconds = std::chrono::duration<double>(finished_ - steady_start_).count();
  }

  void build_record() {
    sigset_t stop = stop_signals();
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    remove_heartbeat(ws_);

    record_end(record_, {supervisor_.main_status(), containment_->usage(), supervisor_.timed_out(),
                         supervisor_.cancelled_by(), spec_.timeout});
    auto output_error = [this](const std::string& what) {
      record_.output_error += (record_.output_error.empty() ? "" : "; ") + what;
    };
    for (OutputPump* p : pumps())
      if (p && !p->error().empty()) output_error(p->error());
    // With stdout and stderr in one file there is one pump, and stdout_truncated says it all.
    record_.stdout_truncated = stdout_pump_ && stdout_pump_->truncated();
    record_.stderr_truncated = stderr_pump_ && stderr_pump_->truncated();
    // The outputs are part of the result: durable before the status says the job is done. On
    // NFS a write error (ENOSPC, EDQUOT, EIO) may surface only here: the record says so.
    for (const std::string& e : make_outputs_durable(ws_, {{stdout_file_.get(), "stdout"}, {stderr_file_.get(), "stderr"}}))
      output_error(e);
    containment_.reset();  // removes the (now empty) job cgroup
  }

  const JobSpec& spec_;
  const Credentials& creds_;
  LinuxWorkspace& ws_;
  RunnerSettings settings_;
  Supervisor supervisor_;

  asio::io_context io_;
  asio::signal_set stop_signals_{io_, SIGTERM, SIGINT};
  asio::steady_timer deadline_{io_};  // the supervisor's next deadline
  std::unique_ptr<Containment> containment_;
  std::optional<OutputPump> stdout_pump_, stderr_pump_;
  UniqueFd stdout_file_, stderr_file_;
  pid_t pid_ = -1;
  std::chrono::steady_clock::time_point steady_start_, finished_;
  StatusRecord record_;
};

}  // namespace

StatusRecord run_job_process(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws,
                             const RunnerSettings& settings) {
  return JobRun(spec, creds, ws, settings).run();
}

}  // namespace smartvm::agent
