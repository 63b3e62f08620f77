// Which jobs are orphans, decided from what was seen (pure). A job's smartvm-run holds a lock
// on its job directory while it lives (job_locks.hpp): an active job domain whose directory
// is in the runtime directory and is no longer locked, or no longer there, has lost its
// launcher, and is to be destroyed and its directory removed. A directory in the runtime
// directory that no job domain uses and nobody holds is a leftover, removed. Only directories
// directly in the runtime directory are ever named, and only ones that were seen there as
// directories (never a symlink); a job whose directory is elsewhere is not nodeld's to judge.
#pragma once

#include "domain_devices.hpp"
#include "job_locks.hpp"

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
// (the runtime directory), then their locks. In that order a smartvm-run that starts during
// the pass holds its directory's lock before nodeld tries it, or finds it removed and makes it
// again (job_locks.hpp).
struct CleanupView {
  std::string runtime_dir;  // absolute, without a trailing slash
  std::vector<JobDomainRef> domains;
  std::set<std::string> directories;      // names of the directories directly in runtime_dir
  std::map<std::string, DirLock> locks;   // absolute directory -> its lock; unknown when absent
  // The UUIDs of the job domains the previous pass left to libvirt (CleanupPlan::ending).
  std::set<std::string> ending_before;
};

struct OrphanJob {
  JobDomainRef domain;
  std::string reason;                    // "its smartvm-run (pid 42) no longer holds /run/smartvm/jobs/j1"
  std::vector<std::string> directories;  // absolute, in runtime_dir; removed once the domain is gone
};

struct CleanupPlan {
  std::vector<OrphanJob> orphans;
  std::vector<std::string> leftovers;  // absolute, in runtime_dir: no domain uses it, nobody holds it
  // Running job domains whose directory is gone: left alone this pass, destroyed by the next
  // if they are still there. Such a domain is nearly always ending already: its guest powered
  // itself off and smartvm-run exited without waiting for libvirt to remove it (about 200 ms,
  // smartvm-run(8)), or its job ended between the cycle's list of domains and this pass.
  std::set<std::string> ending;
};

CleanupPlan plan_job_cleanup(const CleanupView& view);

// The directories whose locks a pass needs: each job domain's job directory when it is directly
// in the runtime directory, and every directory seen there.
std::set<std::string> directories_to_probe(const CleanupView& view);

// The name of the directory directly in `runtime_dir` that `path` is in ("" when it is not in
// one): /run/smartvm/jobs/j1/disk.qcow2 -> j1. Lexical: ".." never climbs out.
std::string job_directory_name(const std::string& runtime_dir, const std::string& path);

}  // namespace smartvm::nodeld
