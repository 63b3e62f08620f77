// A real single-node Slurm for one test (Debian's slurmctld, slurmd and munge): its key,
// sockets, configuration, state, spool and logs all in the test's directory, listening on free
// ports of 127.0.0.1; no system service and no file under /etc is used. The daemons are stopped
// by the PIDs recorded when they were started, slurmd first. TESTBED.md has the measurements.
#pragma once

#include "background_process.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::test {

class SlurmCluster {
 public:
  struct Options {
    int cpus = 2;
    int memory_mib = 2000;
    int kill_wait_seconds = 5;  // SIGTERM to SIGKILL on scancel and time limits
    // proctrack/cgroup and task/cgroup (cgroup v1: the freezer suspends, ConstrainCores and
    // ConstrainRAMSpace) instead of proctrack/linuxproc; the node is then named after this
    // process, so that Slurm's cgroups (slurm_NODE) are this cluster's alone, removed at stop().
    bool cgroup = false;
  };
  SlurmCluster(const TempDir& dir, Options options);
  explicit SlurmCluster(const TempDir& dir) : SlurmCluster(dir, Options{}) {}
  ~SlurmCluster();
  SlurmCluster(const SlurmCluster&) = delete;
  SlurmCluster& operator=(const SlurmCluster&) = delete;

  // Starts munged, slurmctld and slurmd, and waits until the node is idle; false (with
  // logs() saying why) when it did not come up.
  bool start();
  void stop();

  // SLURM_CONF=..., for the client tools and for programs run under the allocation.
  std::vector<std::string> env() const;
  // Runs a client tool (sbatch, scontrol, scancel, ...) with env().
  ProcessResult client(std::vector<std::string> argv, std::chrono::milliseconds limit = std::chrono::seconds(30)) const;
  // sbatch with `args` (options and the script); the job id, or nullopt (the result's stderr in `why`).
  std::optional<std::string> submit(const std::vector<std::string>& args, std::string* why = nullptr) const;
  // The fields of `scontrol show job -o ID` ("JobState" -> "FAILED", "ExitCode" -> "3:0").
  std::map<std::string, std::string> job(const std::string& id) const;
  // Polls scontrol until the job has left PENDING, RUNNING, SUSPENDED, CONFIGURING and
  // COMPLETING; its final JobState, or "" after `limit`.
  std::string wait_for_end(const std::string& id, std::chrono::milliseconds limit) const;
  // Waits until the job is RUNNING; false after `limit`.
  bool wait_for_running(const std::string& id, std::chrono::milliseconds limit) const;
  // The job completion log (jobcomp/filetxt): one line per ended job.
  std::string completion_log() const;
  std::string logs() const;
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  Options options_;
  std::string node_;
  std::unique_ptr<BackgroundProcess> munged_, slurmctld_, slurmd_;
};

}  // namespace smartvm::test
