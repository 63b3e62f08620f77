#include "child_exec.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace smartvm::agent {
namespace {

[[noreturn]] void fail(const ChildPlan& p, ChildStep step) {
  ChildFailure f{step, errno};
  ssize_t ignored = write(p.error_fd, &f, sizeof f);
  (void)ignored;
  _exit(127);
}

// Whether clone3(CLONE_INTO_CGROUP) was refused for a reason fork() and a write to
// cgroup.procs may not share: no clone3 (ENOSYS, before Linux 5.3), no CLONE_INTO_CGROUP or a
// larger clone_args than the kernel knows (E2BIG, EINVAL, before 5.7), a directory that is not
// in the unified hierarchy (EBADF: a cgroup v1 one), EOPNOTSUPP from a hierarchy that refuses.
bool clone_into_cgroup_refused(int err) {
  return err == ENOSYS || err == E2BIG || err == EINVAL || err == EBADF || err == EOPNOTSUPP;
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

namespace {

[[noreturn]] void exec_child(const ChildPlan& p) {
  // The agent's signal handlers and mask are not the job's business.
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail(p, ChildStep::signals);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);

  if (p.cgroup_procs_fd >= 0 && write(p.cgroup_procs_fd, "0", 1) != 1) fail(p, ChildStep::cgroup);
  if (setsid() < 0) fail(p, ChildStep::session);
  if (dup2(p.stdin_fd, 0) < 0 || dup2(p.stdout_fd, 1) < 0 || dup2(p.stderr_fd, 2) < 0) fail(p, ChildStep::stdio);

  // The raw system calls, not glibc's wrappers: those change the credentials of every thread
  // glibc knows of, and a child of clone3() still has the parent's threads in glibc's list
  // (fork() resets it, a bare clone3 does not), threads that do not exist in this process.
  if (syscall(SYS_setgroups, p.group_count, p.groups) != 0) fail(p, ChildStep::groups);
  if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) fail(p, ChildStep::gid);
  if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) fail(p, ChildStep::uid);
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

}  // namespace

pid_t spawn_child(const ChildPlan& plan) {
  if (plan.cgroup_dir_fd >= 0) {
    // Started in the job cgroup: no migration afterwards. A child that writes itself into
    // cgroup.procs migrates, and a migration waits for an RCU grace period (7-31 ms measured,
    // issue 16); clone3 charges the child to the cgroup as it is made, at the cost of a fork.
    // glibc 2.36 has no clone3() wrapper: the raw system call, with fork()'s semantics (no
    // CLONE_VM, SIGCHLD at exit), the child returning here on its copy of the stack.
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(plan.cgroup_dir_fd);
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
      ChildPlan joined = plan;
      joined.cgroup_procs_fd = -1;  // in the cgroup already
      exec_child(joined);
    }
    if (pid > 0) return static_cast<pid_t>(pid);
    if (!clone_into_cgroup_refused(errno)) return -1;
  }
  pid_t pid = fork();
  if (pid == 0) exec_child(plan);
  return pid;
}

}  // namespace smartvm::agent
