// One request against one service: the cores, memory and wall time it gets (the service's
// defaults, within its maxima), its job id, and the appliance.ini of its context. Pure.
#pragma once

#include "error.hpp"
#include "run_options.hpp"
#include "service_catalog.hpp"

#include <chrono>
#include <string>

namespace smartvm::launcher {

struct JobRequest {
  std::string job_id;
  std::string owner;  // the requesting user
  unsigned cores = 1;
  uint64_t memory_bytes = 0;
  std::chrono::seconds wall_time{0};
  std::string cpuset;     // the host CPUs the vCPUs are pinned to (a Slurm job's); "" = anywhere
  std::string slurm_job;  // the Slurm job it runs in (SLURM_JOB_ID), asked why on SIGTERM; "" = none
  std::string appliance;  // appliance.ini text for the context ISO
};

// Refuses a request beyond the service's maxima, naming the option and the limit.
Result<JobRequest> resolve_request(const Service& service, const RunOptions& options, const std::string& owner,
                                   const std::string& generated_job_id);

// The domain's name: "smartvm-" + job id (a job id is unique on the node).
std::string domain_name_for(const std::string& job_id);

}  // namespace smartvm::launcher
