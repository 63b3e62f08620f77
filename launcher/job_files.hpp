// A job's files on the host, in a directory of their own named by the job id: the overlay,
// the context ISO (and the appliance.ini it is built from), and the console and status
// sockets of its domain. The directory is made exclusively, so a job id in use is refused;
// everything in it goes when the JobFiles does, on every path out of smartvm-run.
//
// While smartvm-run lives it holds an exclusive flock(2) on the directory: that is how nodeld
// tells a live launcher's job from an orphan (nodeld(8), JOBS). The kernel drops the lock when
// the process ends however it ends (SIGKILL included), and a recycled pid cannot hold it.
#pragma once

#include "error.hpp"

#include <string>

namespace smartvm::launcher {

class JobFiles {
 public:
  // Makes ROOT/JOB_ID (ROOT created if missing) and locks it. Fails when the job id is in use
  // here, or when the socket paths would be too long for a Unix socket.
  static Result<JobFiles> create(const std::string& root, const std::string& job_id);

  JobFiles(JobFiles&& o) noexcept;
  JobFiles& operator=(JobFiles&&) = delete;
  JobFiles(const JobFiles&) = delete;
  ~JobFiles();  // removes the directory and what is in it, then lets the lock go

  const std::string& dir() const { return dir_; }
  std::string appliance() const { return dir_ + "/appliance.ini"; }
  std::string context_iso() const { return dir_ + "/context.iso"; }
  std::string overlay() const { return dir_ + "/disk.qcow2"; }
  std::string console_socket() const { return dir_ + "/console.sock"; }
  std::string status_socket() const { return dir_ + "/status.sock"; }

  // Removes everything now; what could not be removed is said (the destructor is silent).
  Result<void> remove();

 private:
  JobFiles(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::string dir_;   // "" once removed or moved from
  int lock_fd_ = -1;  // the directory, flock'ed; closed once it is removed
};

}  // namespace smartvm::launcher
