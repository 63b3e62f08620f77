// What Slurm gave the job when smartvm-run runs in a Slurm job (sbatch's batch step, or srun):
// its id, its CPUs and its memory, read from the step's environment and its CPU affinity. The
// VM then takes exactly that: the job id names the domain, the vCPUs are pinned to the job's
// CPUs and the memory is the allocation's, so that two VM jobs on a node never share cores and
// Slurm's view of the node stays true. Pure: the environment and the CPUs are passed in.
#pragma once

#include "error.hpp"
#include "run_options.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::launcher {

struct SlurmAllocation {
  std::string job_id;                    // "slurm-123", or "slurm-123.4" for srun's step 4
  unsigned cpus = 0;                     // the CPUs the job may use
  std::optional<uint64_t> memory_bytes;  // none when the job was given no memory limit
  std::vector<unsigned> cpuset;          // which CPUs: the step's affinity
  std::string slurm_job_id;              // SLURM_JOB_ID ("123"): what to ask slurmctld about
};

// Nothing when the environment has no SLURM_JOB_ID (not under Slurm); an error naming the
// variable when one is malformed. `allowed_cpus`: this process's CPU affinity (sched_getaffinity),
// which Slurm's task plugins set to the job's CPUs.
Result<std::optional<SlurmAllocation>> slurm_allocation(const std::map<std::string, std::string>& env,
                                                        const std::vector<unsigned>& allowed_cpus);

// The most a service gives one job: what the allocation gives beyond it stays unused.
struct ServiceMaxima {
  unsigned cores = ~0u;
  uint64_t memory_bytes = ~uint64_t(0);
};

// Takes the allocation's id, CPUs and memory (within the service's maxima) where the request
// gave none, and refuses a request larger than the allocation, naming what was asked and what
// Slurm gave.
Result<void> apply_allocation(RunOptions& options, const SlurmAllocation& allocation, const ServiceMaxima& maxima = {});

// "0-3,8": libvirt's cpuset syntax, for <vcpu cpuset=...>.
std::string cpuset_text(const std::vector<unsigned>& cpus);

}  // namespace smartvm::launcher
