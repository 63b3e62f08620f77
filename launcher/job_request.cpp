#include "job_request.hpp"

namespace smartvm::launcher {
namespace {

std::string mib(uint64_t bytes) { return std::to_string(bytes >> 20) + "M"; }

}  // namespace

std::string domain_name_for(const std::string& job_id) { return "smartvm-" + job_id; }

Result<JobRequest> resolve_request(const Service& s, const RunOptions& o, const std::string& owner,
                                   const std::string& generated_job_id) {
  JobRequest r;
  r.job_id = o.job_id.empty() ? generated_job_id : o.job_id;
  if (!valid_job_id(r.job_id)) return make_error("\"" + r.job_id + "\" is not a job id");
  r.owner = owner;
  r.cores = o.cores.value_or(s.cores);
  if (r.cores > s.max_cores)
    return make_error("--cores " + std::to_string(r.cores) + ": service " + s.name + " allows at most " +
                      std::to_string(s.max_cores) + " (max_cores in " + s.file + ")");
  r.memory_bytes = o.memory_bytes.value_or(s.memory_bytes);
  if (r.memory_bytes > s.max_memory_bytes)
    return make_error("--memory " + mib(r.memory_bytes) + ": service " + s.name + " allows at most " +
                      mib(s.max_memory_bytes) + " (max_memory in " + s.file + ")");
  if (r.memory_bytes < (64ull << 20)) return make_error("--memory " + mib(r.memory_bytes) + ": less than 64M boots no guest");
  r.wall_time = o.time_seconds ? std::chrono::seconds(*o.time_seconds) : s.wall_time;
  if (r.wall_time > s.max_wall_time)
    return make_error("--time " + std::to_string(r.wall_time.count()) + " s: service " + s.name + " allows at most " +
                      std::to_string(s.max_wall_time.count()) + " s (max_wall_time in " + s.file + ")");
  r.appliance = appliance_for(s, r.job_id, owner, o.args);
  return r;
}

}  // namespace smartvm::launcher
