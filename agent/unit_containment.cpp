#include "unit_containment.hpp"

#include "cgroup_containment.hpp"
#include "child_exec.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace smartvm::agent {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// What execve() would say, said before systemd tries: its own failure would only show as
// an exit status 203 (and a journal line), which a job could also return.
Result<void> check_executable(const std::string& path) {
  std::string what = describe(ChildStep::exec) + std::string(" ") + path;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return os_error(what);
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) return os_error(what, EACCES);
  return {};
}

}  // namespace

std::string UnitContainment::where() const { return unit_ ? " in " + unit_->name() : std::string(); }

Result<pid_t> UnitContainment::start(const JobLaunch& launch, asio::io_context& io, Hooks hooks) {
  hooks_ = std::move(hooks);
  io_ = &io;
  // No fallback to forking the job here: under systemd the agent is sandboxed (system call
  // filters, MemoryDenyWriteExecute, RestrictNamespaces, no CAP_KILL), and a forked job
  // would inherit all of it, irrevocably. An older systemd that refuses a property (the
  // unit needs 243) is a setup failure that says so; SMARTVM_CONTAINMENT is the explicit
  // way to fork under systemd (smartvm-agent(8), THE JOB UNIT).
  if (auto runnable = check_executable(launch.argv[0]); !runnable) return runnable.error();
  if (auto started = start_unit(launch); !started)
    return started.error().context("cannot run the job as a systemd unit, and it never runs under the agent's "
                                   "sandbox instead (the unit needs systemd 243 or later)");
  return unit_->main_pid();
}

Result<void> UnitContainment::start_unit(const JobLaunch& launch) {
  JobUnitSpec u;
  u.name = "smartvm-job-" + std::to_string(getpid()) + ".service";
  u.workdir = launch.workdir;
  u.description = "smartvm job in " + u.workdir;
  u.argv = launch.argv;
  u.env = launch.env;
  u.uid = launch.creds->uid;
  u.gid = launch.creds->gid;
  u.groups = launch.creds->groups;
  u.umask = launch.umask;
  u.stdin_fd = launch.stdin_fd;
  u.stdout_fd = launch.stdout_fd;
  u.stderr_fd = launch.stderr_fd;
  u.kill_grace = launch.kill_grace;
  u.stop_after = own_unit_;
  u.events = hooks_.events;
  auto started = JobUnit::start(u);
  if (!started) return started.error();
  unit_.emplace(std::move(*started));
  started_ = true;
  if (std::string root = find_unified_mount(); !root.empty() && !unit_->cgroup().empty())
    cgroup_.emplace(JobCgroup::observe(root + unit_->cgroup()));
  watching_ = true;
  watch();
  return {};
}

// systemd says when the unit changes; the main process's end is one of those changes.
void UnitContainment::watch() {
  if (unit_->fd() < 0) {  // no connection to systemd just now: try again in a second
    if (!retry_) retry_.emplace(*io_);
    retry_->expires_after(1s);
    retry_->async_wait([this](const boost::system::error_code& ec) {
      if (!ec && watching_) on_event();
    });
    return;
  }
  if (!bus_watch_ || watched_generation_ != unit_->generation()) {
    bus_watch_.emplace(*io_, fcntl(unit_->fd(), F_DUPFD_CLOEXEC, 3));
    watched_generation_ = unit_->generation();
  }
  bus_watch_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (!ec && watching_) on_event();
  });
}

void UnitContainment::on_event() {
  while (unit_->process()) {
    if (main_exited_) continue;
    if (auto st = unit_->main_exit_status()) {
      main_exited_ = true;
      // systemd's own failures to set the job up (200 CHDIR, 203 EXEC, 217 USER, ...) are
      // exit statuses too; the checks before the start make them unlikely, not impossible.
      if (WIFEXITED(*st) && WEXITSTATUS(*st) >= 200 && WEXITSTATUS(*st) <= 243)
        tell(hooks_.events, log::Level::notice, "exit status " + std::to_string(WEXITSTATUS(*st)) +
                                              " is also how systemd reports a job it could not start: journalctl -u " +
                                              unit_->name() + " says which");
      hooks_.main_exited(*st);
    }
  }
  hooks_.changed();  // may release the unit, and this watch with it
  if (watching_ && unit_) watch();
}

size_t UnitContainment::process_count() const { return cgroup_ ? cgroup_->pids().size() : 0; }

void UnitContainment::signal(int sig) {
  if (!unit_) return;
  if (auto r = unit_->kill(sig); !r) tell(hooks_.events, log::Level::warning, r.error().message);
}

double UnitContainment::cpu_seconds() const {
  if (!cgroup_) return 0;
  JobCgroup::Usage u = cgroup_->usage();
  return u.user_seconds + u.system_seconds;
}

// Nothing of the job runs any more: what its cgroup counted is read before systemd removes
// it with the unit.
void UnitContainment::release() {
  final_usage_ = cgroup_ ? cgroup_->usage() : JobCgroup::Usage{};
  cgroup_.reset();
  bus_watch_.reset();
  if (retry_) retry_->cancel();
  unit_.reset();
}

void UnitContainment::stop_watching() {
  watching_ = false;
  if (bus_watch_) bus_watch_->cancel();
  if (retry_) retry_->cancel();
}

JobUsage UnitContainment::usage() const {
  if (final_usage_) return with_cgroup_usage({}, *final_usage_);
  if (cgroup_) return with_cgroup_usage({}, cgroup_->usage());
  return {};
}

}  // namespace smartvm::agent
