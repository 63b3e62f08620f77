#include "job_cleanup.hpp"

#include <filesystem>

namespace smartvm::nodeld {

namespace {

// A job id that names a directory directly in the runtime directory as it is.
bool plain_name(const std::string& s) { return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos; }

// The directories a job domain uses, of those that exist: its job directory, where its files
// are, and the one named by its job id (smartvm-run makes RUNTIME_DIR/JOB_ID).
std::set<std::string> directories_of(const CleanupView& view, const JobDomainRef& d) {
  std::set<std::string> out;
  std::vector<std::string> paths = d.file_sources;
  paths.push_back(d.job.job_dir);
  for (const std::string& path : paths)
    if (std::string name = job_directory_name(view.runtime_dir, path); !name.empty() && view.directories.count(name))
      out.insert(name);
  if (plain_name(d.job.job_id) && view.directories.count(d.job.job_id)) out.insert(d.job.job_id);
  return out;
}

// The job directory of `d` as the lock is tried on it ("" when it is not directly in the
// runtime directory, where nodeld does not judge it).
std::string lock_directory_of(const CleanupView& view, const JobDomainRef& d) {
  std::string name = job_directory_name(view.runtime_dir, d.job.job_dir);
  if (name.empty() || std::filesystem::path(d.job.job_dir).lexically_normal() != std::filesystem::path(view.runtime_dir) / name)
    return "";
  return view.runtime_dir + "/" + name;
}

DirLock lock_of(const CleanupView& view, const std::string& dir) {
  auto it = view.locks.find(dir);
  return it == view.locks.end() ? DirLock::unknown : it->second;
}

std::string launcher_of(const JobDomainRef& d) {
  return d.job.launcher_pid > 0 ? "its smartvm-run (pid " + std::to_string(d.job.launcher_pid) + ")" : "its smartvm-run";
}

}  // namespace

std::string job_directory_name(const std::string& runtime_dir, const std::string& path) {
  if (path.empty()) return "";
  std::filesystem::path rel = std::filesystem::path(path).lexically_normal().lexically_relative(runtime_dir);
  if (rel.empty() || rel.is_absolute()) return "";
  std::string first = rel.begin()->string();
  return plain_name(first) ? first : "";
}

std::set<std::string> directories_to_probe(const CleanupView& view) {
  std::set<std::string> out;
  for (const JobDomainRef& d : view.domains)
    if (std::string dir = lock_directory_of(view, d); !dir.empty()) out.insert(dir);
  for (const std::string& name : view.directories) out.insert(view.runtime_dir + "/" + name);
  return out;
}

CleanupPlan plan_job_cleanup(const CleanupView& view) {
  CleanupPlan plan;
  std::set<std::string> used;
  for (const JobDomainRef& d : view.domains) {
    std::set<std::string> dirs = directories_of(view, d);
    used.insert(dirs.begin(), dirs.end());
    // A shut-off domain (smartvm-run's are transient: somebody defined this one), or one whose
    // directory is not in the runtime directory: never an orphan.
    std::string dir = lock_directory_of(view, d);
    if (!d.active || dir.empty()) continue;
    DirLock lock = lock_of(view, dir);
    if (lock != DirLock::taken && lock != DirLock::missing) continue;  // held, or cannot tell
    if (lock == DirLock::missing && !view.ending_before.count(d.uuid)) {
      plan.ending.insert(d.uuid);
      continue;
    }
    OrphanJob o;
    o.domain = d;
    o.reason = lock == DirLock::missing ? launcher_of(d) + " has ended and " + dir + " is gone"
                                        : launcher_of(d) + " no longer holds " + dir;
    // Only what nodeld holds: a directory a live smartvm-run holds is its own (a new job under
    // the same id), whatever this domain's files say.
    for (const std::string& name : dirs)
      if (lock_of(view, view.runtime_dir + "/" + name) == DirLock::taken) o.directories.push_back(view.runtime_dir + "/" + name);
    plan.orphans.push_back(std::move(o));
  }
  // Nobody holds it: no smartvm-run is making it, or removing it after its domain ended.
  for (const std::string& name : view.directories)
    if (!used.count(name) && lock_of(view, view.runtime_dir + "/" + name) == DirLock::taken)
      plan.leftovers.push_back(view.runtime_dir + "/" + name);
  return plan;
}

}  // namespace smartvm::nodeld
