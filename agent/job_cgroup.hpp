// A cgroup v2 for one job, so that nothing the job starts can escape: not a daemonizing
// grandchild, not a process that changed its session. Created below the agent's own cgroup in
// the unified hierarchy; when that is impossible (no cgroup2, not writable) the runner falls
// back to a child subreaper and the job's process tree.
//
// For memory accounting the parent must have the memory controller enabled for its children.
// The kernel's rule (cgroup v2, "no internal processes"): a cgroup other than the root that
// has a controller enabled in cgroup.subtree_control holds no processes of its own; enabling
// one in a cgroup with processes fails with EBUSY. So when the agent's own cgroup is not the
// root (a service's cgroup when SMARTVM_CONTAINMENT=cgroup forks the job under systemd, whose
// agent unit does not set Delegate=; a test's cgroup) and it offers a controller to enable,
// the agent first moves itself into a "supervisor" leaf of it, the job's sibling. That move is
// a migration, which waits for an RCU grace period (milliseconds), so it is made only then: in
// the root cgroup (the guest without systemd) or where no controller is offered (a hybrid
// host's unified hierarchy) the agent stays where it is, and the job cgroup still holds,
// counts, signals and times the job (cgroup.procs, cgroup.kill and cpu.stat need no controller).
#pragma once

#include "error.hpp"
#include "unique_fd.hpp"

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace smartvm::agent {

class JobCgroup {
 public:
  // `unified_root` is where cgroup2 is mounted ("" = find it in /proc/self/mountinfo).
  static Result<JobCgroup> create(const std::string& name, std::string unified_root = {});
  // A cgroup somebody else made and removes (systemd's, for a job run as a unit of its own):
  // read, never joined or removed.
  static JobCgroup observe(std::string path);

  JobCgroup(JobCgroup&&) = default;
  JobCgroup& operator=(JobCgroup&&) = default;
  ~JobCgroup();  // removes a cgroup it created (it must be empty by then)

  const std::string& path() const { return path_; }
  // The directory, for clone3(CLONE_INTO_CGROUP): the child starts in the cgroup.
  int dir_fd() const { return dir_.get(); }
  // Opened for writing before fork: where clone3 refuses, the child writes "0" to join.
  int procs_fd() const { return procs_.get(); }

  std::vector<pid_t> pids() const;
  void signal_all(int sig) const;  // SIGKILL goes through cgroup.kill, which also catches forks
  struct Usage {
    double user_seconds = 0, system_seconds = 0;
    std::optional<uint64_t> memory_peak_kib;
    uint64_t oom_kills = 0;
  };
  Usage usage() const;

 private:
  JobCgroup() = default;
  std::string path_;
  UniqueFd dir_, procs_;
  bool owned_ = true;
};

// Where the unified (cgroup2) hierarchy is mounted, or "" when it is not.
std::string find_unified_mount();

}  // namespace smartvm::agent
