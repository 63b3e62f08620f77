// Whether a job's smartvm-run still lives, told by the flock(2) it holds on its job directory
// for as long as it runs (launcher/job_files.hpp). The kernel lets the lock go however the
// process ends, SIGKILL included, and a pid reused by another process cannot hold it; nor
// does nodeld need to see the launcher's process (systemd's ProtectProc=invisible hides other
// users' processes from nodeld, and CapabilityBoundingSet takes the right to signal them).
#pragma once

#include <map>
#include <string>

namespace smartvm::nodeld {

enum class DirLock {
  held,     // a launcher holds it: its job lives
  taken,    // nobody held it: nodeld holds it now, until the JobLocks goes
  missing,  // no such directory
  unknown,  // it could not be opened or locked (the error is kept): its job is left alone
};

// The locks one cleanup pass tried. Those it could take it keeps until it goes: a directory
// nodeld removes is removed while no smartvm-run can lock it, and a smartvm-run that made it
// in that moment sees, once its own lock is granted, that it is gone, and makes it again.
class JobLocks {
 public:
  JobLocks() = default;
  JobLocks(const JobLocks&) = delete;
  JobLocks& operator=(const JobLocks&) = delete;
  ~JobLocks();

  // Tries `dir`'s lock (once per pass: the answer is kept). A symlink is not followed.
  DirLock probe(const std::string& dir);
  const std::map<std::string, DirLock>& seen() const { return seen_; }
  const std::map<std::string, std::string>& errors() const { return errors_; }

 private:
  std::map<std::string, DirLock> seen_;
  std::map<std::string, std::string> errors_;  // dir -> why it is unknown
  std::map<std::string, int> taken_;           // dir -> its descriptor, locked
};

}  // namespace smartvm::nodeld
