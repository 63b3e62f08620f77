#include "job_runner.hpp"

#include "child_exec.hpp"
#include "small_file.hpp"
#include "job_cgroup.hpp"
#include "job_unit.hpp"
#include "log.hpp"
#include "output_pump.hpp"
#include "repository_tree.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <optional>

namespace smartvm::agent {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Every descendant of the process `proc_name` ("self" or a pid), from
// /proc/PID/task/TID/children: the subreaper's view of the job.
void collect_descendants(const std::string& proc_name, std::vector<pid_t>& out) {
  std::string task_dir = "/proc/" + proc_name + "/task";
  DIR* d = opendir(task_dir.c_str());
  if (!d) return;
  std::vector<pid_t> children;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto text = read_small_file(task_dir + "/" + e->d_name + "/children");
    if (text)
      for (const std::string& w : words(*text)) children.push_back(std::atoi(w.c_str()));
  }
  closedir(d);
  for (pid_t c : children) {
    out.push_back(c);
    collect_descendants(std::to_string(c), out);
  }
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

class JobRun {
 public:
  JobRun(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws, const RunnerSettings& settings)
      : spec_(spec), creds_(creds), ws_(ws), settings_(settings) {}

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
    // What the child needs, prepared while we may still allocate.
    std::string path = spec_.command;
    if (spec_.command_in_repository) {
      FsIdentity as_user(creds_, static_cast<mode_t>(spec_.umask));
      auto fd = open_beneath(ws_.root.get(), spec_.command, O_PATH);
      if (!fd) return fd.error().context("[job] command");
      path = ws_.mountpoint + "/" + spec_.command;
    }
    argv_store_.push_back(path);
    argv_store_.insert(argv_store_.end(), spec_.args.begin(), spec_.args.end());
    env_store_ = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + creds_.home, "USER=" + creds_.user};
    for (const auto& var : spec_.env) {
      std::string prefix = var.first + "=";
      std::erase_if(env_store_, [&prefix](const std::string& e) { return e.rfind(prefix, 0) == 0; });
      env_store_.push_back(prefix + var.second);
    }
    for (auto& s : argv_store_) argv_.push_back(s.data());
    argv_.push_back(nullptr);
    for (auto& s : env_store_) envp_.push_back(s.data());
    envp_.push_back(nullptr);

    auto out_file = open_output(spec_.stdout_path, "[job] stdout");
    if (!out_file) return out_file.error();
    stdout_file_ = std::move(*out_file);
    bool shared = spec_.stderr_path == spec_.stdout_path;
    if (!shared) {
      auto err_file = open_output(spec_.stderr_path, "[job] stderr");
      if (!err_file) return err_file.error();
      stderr_file_ = std::move(*err_file);
    }
    int out_pipe[2], err_pipe[2] = {-1, -1};
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || (!shared && pipe2(err_pipe, O_CLOEXEC) != 0)) return os_error("create pipes");
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]), err_r(err_pipe[0]), err_w(err_pipe[1]);
    UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull.valid()) return os_error("open /dev/null");

    if (settings_.systemd_unit) {
      if (auto runnable = check_executable(); !runnable) return runnable.error();
      // No fallback to forking the job here: under systemd the agent is sandboxed (system call
      // filters, MemoryDenyWriteExecute, RestrictNamespaces, no CAP_KILL), and a forked job
      // would inherit all of it, irrevocably. An older systemd that refuses a property (the
      // unit needs 243) is a setup failure that says so; SMARTVM_CONTAINMENT is the explicit
      // way to fork under systemd (smartvm-agent(8), THE JOB UNIT).
      if (auto started = start_unit(devnull.get(), out_w.get(), shared ? out_w.get() : err_w.get()); !started)
        return started.error().context("cannot run the job as a systemd unit, and it never runs under the agent's "
                                       "sandbox instead (the unit needs systemd 243 or later)");
    }
    if (!unit_) {
      if (auto forked = start_forked(devnull.get(), out_w.get(), shared ? out_w.get() : err_w.get()); !forked)
        return forked.error();
    }
    out_w.reset();
    err_w.reset();
    log::info("job started as pid " + std::to_string(pid_) + (unit_ ? " in " + unit_->name() : std::string()) + ": " +
              argv_store_[0]);

    stdout_pump_.emplace(io_, std::move(out_r), stdout_file_.get(), spec_.output_limit, "stdout");
    stdout_pump_->start([this] { check_done(); });
    if (!shared) {
      stderr_pump_.emplace(io_, std::move(err_r), stderr_file_.get(), spec_.output_limit, "stderr");
      stderr_pump_->start([this] { check_done(); });
    }
    stop_signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log::warning("received " + signal_name(sig) + ": stopping the job");
      cancelled_by_ = sig;
      terminate();
    });
    // SIGTERM and SIGINT stay blocked during setup (see main.cpp); the signal_set takes them
    // from here on, including one that is already pending.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_UNBLOCK, &stop, nullptr);
    if (spec_.timeout.count() > 0) {
      timeout_.expires_after(spec_.timeout);
      timeout_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        log::warning("the job exceeded its timeout of " + std::to_string(spec_.timeout.count()) + " s: stopping it");
        timed_out_ = true;
        terminate();
      });
    }
    schedule_heartbeat();
    return {};
  }

  // The job as the agent's child: in a cgroup of its own below the agent's when possible,
  // else held by the agent as a child subreaper.
  Result<void> start_forked(int stdin_fd, int stdout_fd, int stderr_fd) {
    if (settings_.use_cgroup) {
      auto cg = JobCgroup::create("smartvm-job." + std::to_string(getpid()), settings_.unified_root);
      if (cg)
        cgroup_.emplace(std::move(*cg));
      else
        log::info("no job cgroup (" + cg.error().message + "); containing the job as a child subreaper");
    }
    record_.containment = cgroup_ ? "cgroup" : "subreaper";
    // Orphans of the job become our children, so the job cannot slip away by double-forking.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) != 0) return os_error("create pipes");
    UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);

    ChildPlan plan;
    plan.path = argv_[0];
    plan.argv = argv_.data();
    plan.envp = envp_.data();
    plan.stdin_fd = stdin_fd;
    plan.stdout_fd = stdout_fd;
    plan.stderr_fd = stderr_fd;
    plan.cgroup_procs_fd = cgroup_ ? cgroup_->procs_fd() : -1;
    plan.workdir_fd = ws_.workdir.get();
    plan.uid = creds_.uid;
    plan.gid = creds_.gid;
    plan.groups = creds_.groups.data();
    plan.group_count = creds_.groups.size();
    plan.umask = static_cast<mode_t>(spec_.umask);
    plan.parent = getpid();
    plan.error_fd = status_w.get();

    // Registered before fork so that no SIGCHLD can be missed.
    child_signal_.async_wait([this](const boost::system::error_code& ec, int) { on_sigchld(ec); });
    pid_ = fork();
    if (pid_ < 0) return os_error("fork");
    if (pid_ == 0) exec_child(plan);

    status_w.reset();
    ChildFailure failure{};
    ssize_t n;
    do n = read(status_r.get(), &failure, sizeof failure);
    while (n < 0 && errno == EINTR);
    if (n == sizeof failure) {
      int st = 0;
      waitpid(pid_, &st, 0);
      pid_ = -1;
      std::string what = describe(failure.step);
      if (failure.step == ChildStep::exec) what += " " + std::string(argv_[0]);
      return os_error(what, failure.error);
    }
    return {};
  }

  // What execve() would say, said before systemd tries: its own failure would only show as
  // an exit status 203 (and a journal line), which a job could also return.
  Result<void> check_executable() {
    std::string what = describe(ChildStep::exec) + std::string(" ") + argv_[0];
    struct stat st {};
    if (stat(argv_[0], &st) != 0) return os_error(what);
    if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) return os_error(what, EACCES);
    return {};
  }

  // The job as a transient service of systemd's (job_unit.hpp).
  Result<void> start_unit(int stdin_fd, int stdout_fd, int stderr_fd) {
    JobUnitSpec u;
    u.name = "smartvm-job-" + std::to_string(getpid()) + ".service";
    u.workdir = ws_.mountpoint + (spec_.workdir.empty() ? "" : "/" + spec_.workdir);
    u.description = "smartvm job in " + u.workdir;
    u.argv = argv_store_;
    u.env = env_store_;
    u.uid = creds_.uid;
    u.gid = creds_.gid;
    u.groups = creds_.groups;
    u.umask = static_cast<mode_t>(spec_.umask);
    u.stdin_fd = stdin_fd;
    u.stdout_fd = stdout_fd;
    u.stderr_fd = stderr_fd;
    u.kill_grace = spec_.kill_grace;
    u.stop_after = settings_.own_unit;
    auto started = JobUnit::start(u);
    if (!started) return started.error();
    unit_.emplace(std::move(*started));
    pid_ = unit_->main_pid();
    record_.containment = "systemd";
    if (std::string root = find_unified_mount(); !root.empty() && !unit_->cgroup().empty())
      cgroup_.emplace(JobCgroup::observe(root + unit_->cgroup()));
    watch_unit();
    return {};
  }

  // Nothing of the job runs any more: what its cgroup counted is read before systemd removes
  // it with the unit. systemd holds a copy of the output pipes' write ends as long as the
  // unit exists, so the pumps end when the pipes are empty, not at EOF (polled from here on).
  void release_unit() {
    final_usage_ = cgroup_ ? cgroup_->usage() : JobCgroup::Usage{};
    cgroup_.reset();
    bus_watch_.reset();
    unit_retry_.cancel();
    unit_.reset();
    writers_gone_ = true;
    poll_until_gone();
  }

  // systemd says when the unit changes; the main process's end is one of those changes.
  void watch_unit() {
    if (unit_->fd() < 0) {  // no connection to systemd just now: try again in a second
      unit_retry_.expires_after(1s);
      unit_retry_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !done_) on_unit_event();
      });
      return;
    }
    if (!bus_watch_ || watched_generation_ != unit_->generation()) {
      bus_watch_.emplace(io_, fcntl(unit_->fd(), F_DUPFD_CLOEXEC, 3));
      watched_generation_ = unit_->generation();
    }
    bus_watch_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (!ec && !done_) on_unit_event();
    });
  }

  void on_unit_event() {
    while (unit_->process()) {
      if (main_exited_) continue;
      if (auto st = unit_->main_exit_status()) {
        main_status_ = *st;
        // systemd's own failures to set the job up (200 CHDIR, 203 EXEC, 217 USER, ...) are
        // exit statuses too; the checks before the start make them unlikely, not impossible.
        if (WIFEXITED(*st) && WEXITSTATUS(*st) >= 200 && WEXITSTATUS(*st) <= 243)
          log::notice("exit status " + std::to_string(WEXITSTATUS(*st)) +
                      " is also how systemd reports a job it could not start: journalctl -u " + unit_->name() + " says which");
        on_main_exit();
      }
    }
    check_done();  // may release the unit, and this watch with it
    if (!done_ && unit_) watch_unit();
  }

  Result<UniqueFd> open_output(const std::string& rel, const std::string& key) {
    FsIdentity as_user(creds_, static_cast<mode_t>(spec_.umask));
    auto [dir, name] = split_parent(rel);
    if (auto d = make_directories_beneath(ws_.root.get(), dir); !d) return d.error().context(key);
    // O_NONBLOCK: a FIFO (or a device) named like the output would block this open() forever,
    // with SIGTERM blocked; a FIFO without a reader fails with ENXIO instead. Only a regular
    // file is an output; the flag goes again before the pump writes to it.
    auto fd = open_beneath(ws_.root.get(), rel, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (!fd && fd.error().code == std::errc::no_such_device_or_address)
      return make_error(key + ": \"" + rel + "\" is not a regular file (a FIFO?)");
    if (!fd) return fd.error().context(key);
    struct stat st {};
    if (fstat(fd->get(), &st) != 0) return os_error(key + ": stat \"" + rel + "\"");
    if (!S_ISREG(st.st_mode)) return make_error(key + ": \"" + rel + "\" is not a regular file");
    if (fcntl(fd->get(), F_SETFL, fcntl(fd->get(), F_GETFL) & ~O_NONBLOCK) != 0) return os_error(key + ": " + rel);
    return fd;
  }

  void on_sigchld(const boost::system::error_code& ec) {
    if (ec) return;
    for (;;) {
      int st = 0;
      rusage ru{};
      pid_t p = wait4(-1, &st, WNOHANG, &ru);
      if (p <= 0) break;
      if (p == pid_) {
        main_status_ = st;
        main_usage_ = ru;
        on_main_exit();
      } else {
        orphan_user_ += seconds(ru.ru_utime);
        orphan_system_ += seconds(ru.ru_stime);
      }
    }
    if (!done_) child_signal_.async_wait([this](const boost::system::error_code& e, int) { on_sigchld(e); });
    check_done();
  }

  void on_main_exit() {
    main_exited_ = true;
    finished_ = std::chrono::steady_clock::now();
    record_.finished_at = StatusRecord::Clock::now();
    timeout_.cancel();
    heartbeat_.cancel();
    size_t left = job_process_count();
    if (left > 0) {
      record_.leftover_processes = left;
      log::warning(std::to_string(left) + " process(es) of the job still running after it ended: stopping them");
      terminate();
    }
  }

  size_t job_process_count() const {
    if (cgroup_) return cgroup_->pids().size();
    std::vector<pid_t> all;
    collect_descendants("self", all);
    return all.size();
  }

  void signal_job(int sig) {
    if (unit_) {
      if (auto r = unit_->kill(sig); !r) log::warning(r.error().message);
      return;
    }
    if (cgroup_) {
      cgroup_->signal_all(sig);
      return;
    }
    if (!main_exited_) kill(-pid_, sig);  // the job's session leader and its process group
    std::vector<pid_t> all;
    collect_descendants("self", all);
    for (pid_t p : all) kill(p, sig);
  }

  // SIGTERM now, SIGKILL after kill_grace, then SIGKILL again until nothing is left.
  void terminate() {
    if (terminating_) return;
    terminating_ = true;
    timeout_.cancel();
    heartbeat_.cancel();
    signal_job(SIGTERM);
    grace_.expires_after(spec_.kill_grace);
    grace_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) kill_until_gone();
    });
    poll_until_gone();
  }

  void kill_until_gone() {
    if (done_) return;
    signal_job(SIGKILL);
    grace_.expires_after(100ms);
    grace_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) kill_until_gone();
    });
  }

  // SIGCHLD says when a child goes, but not when a cgroup empties; look every few ms.
  void poll_until_gone() {
    poll_.expires_after(20ms);
    poll_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || done_) return;
      check_done();
      if (!done_) poll_until_gone();
    });
  }

  void check_done() {
    if (done_ || !main_exited_) return;
    if (job_process_count() > 0) return;
    // Our own children may still be zombies waiting for the next SIGCHLD round.
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) return;
    if (unit_) release_unit();
    if (writers_gone_)
      for (OutputPump* p : {stdout_pump_ ? &*stdout_pump_ : nullptr, stderr_pump_ ? &*stderr_pump_ : nullptr})
        if (p) p->close_if_drained();
    if ((stdout_pump_ && !stdout_pump_->eof()) || (stderr_pump_ && !stderr_pump_->eof())) return;
    done_ = true;
    timeout_.cancel();
    grace_.cancel();
    poll_.cancel();
    heartbeat_.cancel();
    child_signal_.cancel();
    stop_signals_.cancel();
    if (bus_watch_) bus_watch_->cancel();
    unit_retry_.cancel();
  }

  void schedule_heartbeat() {
    if (spec_.heartbeat.count() == 0) return;
    heartbeat_.expires_after(spec_.heartbeat);
    heartbeat_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || main_exited_) return;
      double cpu = 0;
      if (cgroup_) {
        JobCgroup::Usage u = cgroup_->usage();
        cpu = u.user_seconds + u.system_seconds;
      }
      if (auto r = write_heartbeat(ws_, pid_, *record_.started_at, cpu); !r && !heartbeat_failed_) {
        heartbeat_failed_ = true;  // said once, not every interval
        log::warning("cannot write the heartbeat: " + r.error().message);
      }
      schedule_heartbeat();
    });
  }

  void finish_times() {
    if (!record_.finished_at) {
      record_.finished_at = StatusRecord::Clock::now();
      finished_ = std::chrono::steady_clock::now();
    }
    record_.wall_seconds = std::chrono::duration<double>(finished_ - steady_start_).count();
  }

  void build_record() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, nullptr);
    remove_heartbeat(ws_);

    int st = main_status_;
    if (WIFEXITED(st)) {
      record_.exit_code = WEXITSTATUS(st);
      record_.state = WEXITSTATUS(st) == 0 ? JobState::succeeded : JobState::failed;
    } else if (WIFSIGNALED(st)) {
      record_.exit_code = 128 + WTERMSIG(st);
      record_.signal = signal_name(WTERMSIG(st));
      record_.core_dumped = WCOREDUMP(st);
      record_.state = JobState::signaled;
    }
    record_.user_cpu_seconds = seconds(main_usage_.ru_utime) + orphan_user_;
    record_.system_cpu_seconds = seconds(main_usage_.ru_stime) + orphan_system_;
    record_.max_rss_kib = static_cast<uint64_t>(main_usage_.ru_maxrss);
    if (cgroup_ || final_usage_) {
      JobCgroup::Usage u = final_usage_ ? *final_usage_ : cgroup_->usage();
      // The cgroup also counts processes that were never our children.
      if (u.user_seconds + u.system_seconds > 0) {
        record_.user_cpu_seconds = u.user_seconds;
        record_.system_cpu_seconds = u.system_seconds;
      }
      record_.memory_peak_kib = u.memory_peak_kib;
      record_.oom_kills = u.oom_kills;
      if (u.oom_kills > 0) record_.error = "the OOM killer killed " + std::to_string(u.oom_kills) + " process(es) of the job";
    }
    if (timed_out_) {
      record_.state = JobState::timed_out;
      record_.error = "exceeded the timeout of " + std::to_string(spec_.timeout.count()) + " s";
    } else if (cancelled_by_) {
      record_.state = JobState::cancelled;
      record_.error = "the agent received " + signal_name(cancelled_by_) + " (the VM is being shut down)";
    }
    auto output_error = [this](const std::string& what) {
      record_.output_error += (record_.output_error.empty() ? "" : "; ") + what;
    };
    for (OutputPump* p : {stdout_pump_ ? &*stdout_pump_ : nullptr, stderr_pump_ ? &*stderr_pump_ : nullptr})
      if (p && !p->error().empty()) output_error(p->error());
    // With stdout and stderr in one file there is one pump, and stdout_truncated says it all.
    record_.stdout_truncated = stdout_pump_ && stdout_pump_->truncated();
    record_.stderr_truncated = stderr_pump_ && stderr_pump_->truncated();
    // The outputs are part of the result: durable before the status says the job is done. On
    // NFS a write error (ENOSPC, EDQUOT, EIO) may surface only here: the record says so.
    if (stdout_file_.valid() && fsync(stdout_file_.get()) != 0) output_error(std::string("stdout: ") + strerror(errno));
    if (stderr_file_.valid() && fsync(stderr_file_.get()) != 0) output_error(std::string("stderr: ") + strerror(errno));
    cgroup_.reset();  // removes the (now empty) job cgroup
  }

  const JobSpec& spec_;
  const Credentials& creds_;
  LinuxWorkspace& ws_;
  RunnerSettings settings_;

  asio::io_context io_;
  asio::signal_set child_signal_{io_, SIGCHLD};
  asio::signal_set stop_signals_{io_, SIGTERM, SIGINT};
  asio::steady_timer timeout_{io_}, grace_{io_}, poll_{io_}, heartbeat_{io_};
  std::optional<OutputPump> stdout_pump_, stderr_pump_;
  std::optional<JobCgroup> cgroup_;
  std::optional<JobUnit> unit_;
  std::optional<asio::posix::stream_descriptor> bus_watch_;  // a dup of the unit's connection
  unsigned watched_generation_ = 0;
  asio::steady_timer unit_retry_{io_};
  std::optional<JobCgroup::Usage> final_usage_;  // read before the job's unit went away
  bool writers_gone_ = false;                     // the pumps end when their pipes are empty
  UniqueFd stdout_file_, stderr_file_;
  std::vector<std::string> argv_store_, env_store_;
  std::vector<char*> argv_, envp_;

  pid_t pid_ = -1;
  int main_status_ = 0;
  rusage main_usage_{};
  double orphan_user_ = 0, orphan_system_ = 0;
  bool main_exited_ = false, terminating_ = false, timed_out_ = false, done_ = false, heartbeat_failed_ = false;
  int cancelled_by_ = 0;
  std::chrono::steady_clock::time_point steady_start_, finished_;
  StatusRecord record_;
};

}  // namespace

StatusRecord run_job_process(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws,
                             const RunnerSettings& settings) {
  return JobRun(spec, creds, ws, settings).run();
}

}  // namespace smartvm::agent
