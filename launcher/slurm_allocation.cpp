#include "slurm_allocation.hpp"

#include "parse_number.hpp"

#include <algorithm>

namespace smartvm::launcher {

namespace {

const std::string* lookup(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() || it->second.empty() ? nullptr : &it->second;
}

// Slurm's memory variables are in MiB, a plain number ("2000").
Result<std::optional<uint64_t>> mib_variable(const std::map<std::string, std::string>& env, const char* name) {
  const std::string* v = lookup(env, name);
  if (!v) return std::optional<uint64_t>();
  auto n = parse_integer<uint64_t>(*v);
  if (!n || *n > (uint64_t(1) << 40)) return make_error(std::string(name) + "=\"" + *v + "\" is not a number of MiB");
  return std::optional<uint64_t>(*n << 20);
}

}  // namespace

Result<std::optional<SlurmAllocation>> slurm_allocation(const std::map<std::string, std::string>& env,
                                                        const std::vector<unsigned>& allowed_cpus) {
  const std::string* job = lookup(env, "SLURM_JOB_ID");
  if (!job) return std::optional<SlurmAllocation>();
  if (!parse_integer<uint64_t>(*job)) return make_error("SLURM_JOB_ID=\"" + *job + "\" is not a Slurm job id");
  SlurmAllocation a;
  a.job_id = "slurm-" + *job;
  a.slurm_job_id = *job;
  // srun's steps are numbered; the batch step has none (or "batch" in some versions). Two steps
  // of one job may each start a VM, one after the other or at once.
  if (const std::string* step = lookup(env, "SLURM_STEP_ID"); step && parse_integer<uint64_t>(*step))
    a.job_id += "." + *step;
  a.cpuset = allowed_cpus;
  std::sort(a.cpuset.begin(), a.cpuset.end());
  a.cpuset.erase(std::unique(a.cpuset.begin(), a.cpuset.end()), a.cpuset.end());
  // The CPUs the step may run on are what it was given (task/affinity and task/cgroup set them);
  // SLURM_CPUS_ON_NODE says the same for the batch step and is the fallback without affinity.
  a.cpus = static_cast<unsigned>(a.cpuset.size());
  if (const std::string* on_node = lookup(env, "SLURM_CPUS_ON_NODE")) {
    auto n = parse_integer<unsigned>(*on_node);
    if (!n || *n == 0) return make_error("SLURM_CPUS_ON_NODE=\"" + *on_node + "\" is not a number of CPUs");
    if (a.cpus == 0 || *n < a.cpus) a.cpus = *n;
  }
  if (a.cpus == 0) return make_error("SLURM_JOB_ID is set but neither the CPU affinity nor SLURM_CPUS_ON_NODE says which CPUs the job has");
  auto per_node = mib_variable(env, "SLURM_MEM_PER_NODE");
  if (!per_node) return per_node.error();
  auto per_cpu = mib_variable(env, "SLURM_MEM_PER_CPU");
  if (!per_cpu) return per_cpu.error();
  if (*per_node)
    a.memory_bytes = *per_node;
  else if (*per_cpu)
    a.memory_bytes = **per_cpu * a.cpus;
  return std::optional<SlurmAllocation>(std::move(a));
}

Result<void> apply_allocation(RunOptions& o, const SlurmAllocation& a, const ServiceMaxima& maxima) {
  if (o.job_id.empty()) o.job_id = a.job_id;
  if (o.cores && *o.cores > a.cpus)
    return make_error("--cores " + std::to_string(*o.cores) + " is more than the Slurm job's " + std::to_string(a.cpus) +
                      " CPUs (ask Slurm for more with --cpus-per-task)");
  if (!o.cores) o.cores = std::min(a.cpus, maxima.cores);
  if (a.memory_bytes) {
    if (o.memory_bytes && *o.memory_bytes > *a.memory_bytes)
      return make_error("--memory " + std::to_string(*o.memory_bytes >> 20) + "M is more than the Slurm job's " +
                        std::to_string(*a.memory_bytes >> 20) + "M (ask Slurm for more with --mem)");
    if (!o.memory_bytes) o.memory_bytes = std::min(*a.memory_bytes, maxima.memory_bytes);
  }
  return {};
}

std::string cpuset_text(const std::vector<unsigned>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace smartvm::launcher
