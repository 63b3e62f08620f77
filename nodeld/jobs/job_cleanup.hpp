// Which jobs are orphans, decided from what was seen (pure): a job domain whose smartvm-run is
// gone (its launcher_pid is no process, or a process that is not smartvm-run: the pid was
// reused) is to be destroyed and its job directory removed; a directory in the runtime
// directory that no job domain uses is removed when no smartvm-run could still be making it.
// Only directories directly in the runtime directory are ever named, and only ones that were
// seen there as directories (never a symlink).
#pragma once

#include "domain_devices.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct JobDomainRef {
  std::string name;
  std::string uuid;
  bool active = true;  // running, paused, ...; a shut-off one (not smartvm-run's) is left alone
  JobMetadata job;
  std::vector<std::string> file_sources;
};

// What a cleanup pass saw, in this order: the job domains (libvirt), then the directories
// (the runtime directory), then the processes (/proc). In that order a smartvm-run that starts
// during the pass is seen as a live launcher, so its new directory is not taken for a leftover.
struct CleanupView {
  std::string runtime_dir;  // absolute, without a trailing slash
  std::vector<JobDomainRef> domains;
  std::set<std::string> directories;         // names of the directories directly in runtime_dir
  std::map<int64_t, std::string> processes;  // pid -> comm
  std::string launcher_comm = "smartvm-run";   // what a launcher's comm is
  // Job domains' launchers that exist but /proc does not show (another user's, under hidepid):
  // alive, for all nodeld can tell.
  std::set<int64_t> hidden;
  // Whether `processes` is every process of the host: leftovers are removed only then, since a
  // smartvm-run nodeld cannot see may be making its directory.
  bool all_visible = true;
};

struct OrphanJob {
  JobDomainRef domain;
  std::string reason;                    // "smartvm-run (pid 42) is gone"
  std::vector<std::string> directories;  // absolute, in runtime_dir; removed once the domain is gone
};

struct CleanupPlan {
  std::vector<OrphanJob> orphans;
  std::vector<std::string> leftovers;  // absolute, in runtime_dir: no domain, no launcher
};

CleanupPlan plan_job_cleanup(const CleanupView& view);

// The name of the directory directly in `runtime_dir` that `path` is in ("" when it is not in
// one): /run/smartvm/jobs/j1/disk.qcow2 -> j1. Lexical: ".." never climbs out.
std::string job_directory_name(const std::string& runtime_dir, const std::string& path);

}  // namespace smartvm::nodeld
