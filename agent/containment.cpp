#include "containment.hpp"

#include "cgroup_containment.hpp"
#include "job_runner.hpp"
#include "unit_containment.hpp"

#include <unistd.h>

namespace smartvm::agent {

std::unique_ptr<Containment> make_containment(const RunnerSettings& settings, const EventSink& events) {
  if (settings.systemd_unit) return std::make_unique<UnitContainment>(settings.own_unit);
  if (settings.use_cgroup) {
    auto cg = JobCgroup::create("smartvm-job." + std::to_string(getpid()), settings.unified_root);
    if (cg) return std::make_unique<CgroupContainment>(std::move(*cg));
    tell(events, log::Level::info, "no job cgroup (" + cg.error().message + "); containing the job as a child subreaper");
  }
  return std::make_unique<SubreaperContainment>();
}

}  // namespace smartvm::agent
