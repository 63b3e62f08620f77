#include "subreaper_containment.hpp"

#include "child_exec.hpp"
#include "parse_number.hpp"
#include "small_file.hpp"
#include "split_words.hpp"
#include "unique_fd.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace smartvm::agent {
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
      for (std::string_view w : split_words(*text))
        if (auto pid = parse_integer<pid_t>(w)) children.push_back(*pid);
  }
  closedir(d);
  for (pid_t c : children) {
    out.push_back(c);
    collect_descendants(std::to_string(c), out);
  }
}

std::vector<pid_t> descendants() {
  std::vector<pid_t> all;
  collect_descendants("self", all);
  return all;
}

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

}  // namespace

Result<pid_t> SubreaperContainment::start(const JobLaunch& launch, boost::asio::io_context& io, Hooks hooks) {
  hooks_ = std::move(hooks);
  // What the child needs, prepared while we may still allocate.
  std::vector<std::string> argv_store = launch.argv, env_store = launch.env;
  std::vector<char*> argv, envp;
  for (auto& s : argv_store) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);

  // Orphans of the job become our children, so the job cannot slip away by double-forking.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return os_error("create pipes");
  UniqueFd status_r(status_pipe[0]), status_w(status_pipe[1]);

  ChildPlan plan;
  plan.path = argv[0];
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.stdin_fd = launch.stdin_fd;
  plan.stdout_fd = launch.stdout_fd;
  plan.stderr_fd = launch.stderr_fd;
  if (const JobCgroup* cg = job_cgroup()) {
    plan.cgroup_dir_fd = cg->dir_fd();
    plan.cgroup_procs_fd = cg->procs_fd();
  }
  plan.workdir_fd = launch.workdir_fd;
  plan.uid = launch.creds->uid;
  plan.gid = launch.creds->gid;
  plan.groups = launch.creds->groups.data();
  plan.group_count = launch.creds->groups.size();
  plan.umask = launch.umask;
  plan.parent = getpid();
  plan.error_fd = status_w.get();

  // Registered before fork so that no SIGCHLD can be missed.
  child_signal_.emplace(io, SIGCHLD);
  watching_ = true;
  child_signal_->async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) on_sigchld();
  });
  pid_ = spawn_child(plan);
  if (pid_ < 0) return os_error("fork");

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
    if (failure.step == ChildStep::exec) what += " " + argv_store[0];
    return os_error(what, failure.error);
  }
  return pid_;
}

void SubreaperContainment::on_sigchld() {
  for (;;) {
    int st = 0;
    rusage ru{};
    pid_t p = wait4(-1, &st, WNOHANG, &ru);
    if (p <= 0) break;
    if (p == pid_) {
      main_exited_ = true;
      main_usage_ = ru;
      hooks_.main_exited(st);
    } else {
      orphan_user_ += seconds(ru.ru_utime);
      orphan_system_ += seconds(ru.ru_stime);
    }
  }
  if (watching_)
    child_signal_->async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) on_sigchld();
    });
  hooks_.changed();
}

size_t SubreaperContainment::process_count() const { return descendants().size(); }

bool SubreaperContainment::empty() const {
  if (process_count() > 0) return false;
  // Our own children may still be zombies waiting for the next SIGCHLD round.
  siginfo_t info{};
  return !(waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0);
}

void SubreaperContainment::signal(int sig) {
  if (!main_exited_) kill(-pid_, sig);  // the job's session leader and its process group
  for (pid_t p : descendants()) kill(p, sig);
}

void SubreaperContainment::stop_watching() {
  watching_ = false;
  if (child_signal_) child_signal_->cancel();
}

JobUsage SubreaperContainment::usage() const {
  JobUsage u;
  u.user_seconds = seconds(main_usage_.ru_utime) + orphan_user_;
  u.system_seconds = seconds(main_usage_.ru_stime) + orphan_system_;
  u.max_rss_kib = static_cast<uint64_t>(main_usage_.ru_maxrss);
  return u;
}

}  // namespace smartvm::agent
