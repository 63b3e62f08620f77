// The job as the agent's child in a cgroup v2 of its own (job_cgroup.hpp): the child starts in
// it (clone3, or joins it before exec where the kernel refuses that), so that nothing the job starts can escape, not a daemonizing grandchild, not a
// process that changed its session. The agent is a child subreaper as well, and reaps as the
// subreaper does; the cgroup counts the processes, signals them and says what they used.
#pragma once

#include "job_cgroup.hpp"
#include "subreaper_containment.hpp"

namespace smartvm::agent {

class CgroupContainment : public SubreaperContainment {
 public:
  explicit CgroupContainment(JobCgroup cgroup) : cgroup_(std::move(cgroup)) {}

  std::string name() const override { return "cgroup"; }
  size_t process_count() const override { return cgroup_.pids().size(); }
  void signal(int sig) override { cgroup_.signal_all(sig); }
  double cpu_seconds() const override;
  JobUsage usage() const override;

 protected:
  const JobCgroup* job_cgroup() const override { return &cgroup_; }

 private:
  JobCgroup cgroup_;  // removed (empty by then) with the containment
};

// What a cgroup counted, over what wait4(2) said of the processes that were our children.
JobUsage with_cgroup_usage(JobUsage own, const JobCgroup::Usage& cgroup);

}  // namespace smartvm::agent
