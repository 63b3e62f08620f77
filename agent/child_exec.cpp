#include "child_exec.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace smartvm::agent {
namespace {

[[noreturn]] void fail(const ChildPlan& p, ChildStep step) {
  ChildFailure f{step, errno};
  ssize_t ignored = write(p.error_fd, &f, sizeof f);
  (void)ignored;
  _exit(127);
}

}  // namespace

const char* describe(ChildStep step) {
  switch (step) {
    case ChildStep::signals: return "reset signals";
    case ChildStep::cgroup: return "join the job cgroup";
    case ChildStep::session: return "start a session";
    case ChildStep::stdio: return "set up stdin, stdout and stderr";
    case ChildStep::groups: return "set supplementary groups";
    case ChildStep::gid: return "set group id";
    case ChildStep::uid: return "set user id";
    case ChildStep::no_new_privs: return "set no_new_privs";
    case ChildStep::workdir: return "enter the workdir";
    case ChildStep::descriptors: return "close inherited descriptors";
    case ChildStep::exec: return "execute the command";
  }
  return "start the job";
}

void exec_child(const ChildPlan& p) {
  // The agent's signal handlers and mask are not the job's business.
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(p, ChildStep::signals);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);

  if (p.cgroup_procs_fd >= 0 && write(p.cgroup_procs_fd, "0", 1) != 1) fail(p, ChildStep::cgroup);
  if (setsid() < 0) fail(p, ChildStep::session);
  if (dup2(p.stdin_fd, 0) < 0 || dup2(p.stdout_fd, 1) < 0 || dup2(p.stderr_fd, 2) < 0) fail(p, ChildStep::stdio);

  if (setgroups(p.group_count, p.groups) != 0) fail(p, ChildStep::groups);
  if (setresgid(p.gid, p.gid, p.gid) != 0) fail(p, ChildStep::gid);
  if (setresuid(p.uid, p.uid, p.uid) != 0) fail(p, ChildStep::uid);
  // Set after the uid change, which clears it; then make sure the agent did not die meanwhile.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != p.parent) _exit(127);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(p, ChildStep::no_new_privs);

  umask(p.umask);
  // As the user, so a workdir the user may not enter is an error here, not a surprise later.
  if (fchdir(p.workdir_fd) != 0) fail(p, ChildStep::workdir);
  // Nothing of the agent's leaks into the job: every descriptor above stderr closes at exec
  // (the error pipe too, which is how the parent learns that exec succeeded).
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(p, ChildStep::descriptors);
  execve(p.path, p.argv, p.envp);
  fail(p, ChildStep::exec);
}

}  // namespace smartvm::agent
