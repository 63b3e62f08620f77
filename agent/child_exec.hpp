// How the job's process is made and what it does between fork and exec: start in the job
// cgroup (or join it), start a session, take its stdio, drop to the job's user for good,
// forbid regaining privileges, and exec. Everything here is prepared by the parent: after fork
// only async-signal-safe calls are made. A failing step is reported to the parent through
// `error_fd` (close-on-exec, so a successful exec reports nothing).
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace smartvm::agent {

struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  int cgroup_dir_fd = -1;    // the job cgroup's directory, to be started in; -1 without one
  int cgroup_procs_fd = -1;  // its cgroup.procs, to join after fork where that is refused
  int workdir_fd = -1;
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t group_count = 0;
  mode_t umask = 022;
  pid_t parent = 0;
  int error_fd = -1;
};

// The step that failed, as the child reports it.
enum class ChildStep : int { signals, cgroup, session, stdio, groups, gid, uid, no_new_privs, workdir, descriptors, exec };
const char* describe(ChildStep step);

struct ChildFailure {
  ChildStep step;
  int error;
};

// Starts the job's process: directly in the job cgroup with clone3(CLONE_INTO_CGROUP) when
// the plan has one and the kernel takes it, else fork() and the child joins the cgroup by
// writing to cgroup.procs. Returns the child's pid, or -1 with errno; never returns in the child.
pid_t spawn_child(const ChildPlan& plan);

}  // namespace smartvm::agent
