#include "cgroup_containment.hpp"

namespace smartvm::agent {

double CgroupContainment::cpu_seconds() const {
  JobCgroup::Usage u = cgroup_.usage();
  return u.user_seconds + u.system_seconds;
}

JobUsage CgroupContainment::usage() const { return with_cgroup_usage(SubreaperContainment::usage(), cgroup_.usage()); }

JobUsage with_cgroup_usage(JobUsage own, const JobCgroup::Usage& cgroup) {
  // The cgroup also counts processes that were never our children.
  if (cgroup.user_seconds + cgroup.system_seconds > 0) {
    own.user_seconds = cgroup.user_seconds;
    own.system_seconds = cgroup.system_seconds;
  }
  own.memory_peak_kib = cgroup.memory_peak_kib;
  own.oom_kills = cgroup.oom_kills;
  return own;
}

}  // namespace smartvm::agent
