#include "job_cleanup.hpp"

#include <filesystem>

namespace smartvm::nodeld {

namespace {

// A job id that names a directory directly in the runtime directory as it is.
bool plain_name(const std::string& s) { return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos; }

// The directories a job domain uses: where its files are, and the one named by its job id
// (smartvm-run makes RUNTIME_DIR/JOB_ID), of those that exist.
std::set<std::string> directories_of(const CleanupView& view, const JobDomainRef& d) {
  std::set<std::string> out;
  for (const std::string& file : d.file_sources)
    if (std::string name = job_directory_name(view.runtime_dir, file); !name.empty() && view.directories.count(name))
      out.insert(name);
  if (plain_name(d.job.job_id) && view.directories.count(d.job.job_id)) out.insert(d.job.job_id);
  return out;
}

}  // namespace

std::string job_directory_name(const std::string& runtime_dir, const std::string& path) {
  std::filesystem::path rel = std::filesystem::path(path).lexically_normal().lexically_relative(runtime_dir);
  if (rel.empty() || rel.is_absolute()) return "";
  std::string first = rel.begin()->string();
  return plain_name(first) ? first : "";
}

CleanupPlan plan_job_cleanup(const CleanupView& view) {
  CleanupPlan plan;
  std::set<std::string> used;
  std::set<int64_t> accounted;  // launchers whose job domain was seen
  for (const JobDomainRef& d : view.domains) {
    std::set<std::string> dirs = directories_of(view, d);
    used.insert(dirs.begin(), dirs.end());
    int64_t pid = d.job.launcher_pid;
    // No launcher to check, or a shut-off domain (smartvm-run's are transient: somebody
    // defined this one): never an orphan.
    if (pid <= 0 || !d.active) continue;
    accounted.insert(pid);
    auto p = view.processes.find(pid);
    if ((p != view.processes.end() && p->second == view.launcher_comm) || view.hidden.count(pid)) continue;
    OrphanJob o;
    o.domain = d;
    o.reason = p == view.processes.end()
                   ? "its smartvm-run (pid " + std::to_string(pid) + ") is gone"
                   : "its smartvm-run (pid " + std::to_string(pid) + ") is gone; the pid is " + p->second + "'s now";
    for (const std::string& name : dirs) o.directories.push_back(view.runtime_dir + "/" + name);
    plan.orphans.push_back(std::move(o));
  }
  // A smartvm-run without a domain may be making its directory, or removing it after its
  // domain ended: while one lives, or might without nodeld seeing it, no unused directory is a
  // leftover.
  if (!view.all_visible) return plan;
  for (const auto& [pid, comm] : view.processes)
    if (comm == view.launcher_comm && !accounted.count(pid)) return plan;
  for (const std::string& name : view.directories)
    if (!used.count(name)) plan.leftovers.push_back(view.runtime_dir + "/" + name);
  return plan;
}

}  // namespace smartvm::nodeld
