// Everything the agent does to the guest goes through System: the lifecycle (lifecycle.hpp)
// decides, System acts. The real implementation is LinuxSystem; unit tests use a recording
// fake to check the order of steps and what happens when each one fails.
#pragma once

#include "error.hpp"
#include "job_spec.hpp"
#include "status_record.hpp"

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace smartvm::agent {

// Who the job runs as, looked up in the guest's user database before anything is mounted.
struct Credentials {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, as initgroups(3) would set them
  std::string home;
};

// The prepared job directory in the repository; opaque to the lifecycle.
class Workspace {
 public:
  virtual ~Workspace() = default;
};

class System {
 public:
  virtual ~System() = default;

  // Finds the block device holding the filesystem labelled `label`, waiting a bounded time
  // for a late CD-ROM.
  virtual Result<std::string> find_context(const std::string& label) = 0;
  // Mounts a device or image file read-only and returns where; returns a directory as it is.
  virtual Result<std::string> mount_context(const std::string& source) = 0;
  virtual void unmount_context() = 0;

  virtual Result<Credentials> resolve_credentials(const JobSpec& spec) = 0;

  // One attempt, given at most `limit`: a mount that takes longer is stopped, an error.
  virtual Result<void> mount_repository(const RepositorySpec& repo, std::chrono::seconds limit) = 0;
  virtual Result<void> unmount_repository(const RepositorySpec& repo) = 0;

  // Creates the workdir, proves the repository writable, reserves the status file.
  virtual Result<std::unique_ptr<Workspace>> prepare_workspace(const JobSpec& spec, const Credentials& creds) = 0;
  // Runs the job to its end and kills whatever it left behind; never fails: a job that
  // could not be started is a record with state setup_failed.
  virtual StatusRecord run_job(const JobSpec& spec, const Credentials& creds, Workspace& ws) = 0;
  virtual Result<void> record_status(Workspace& ws, const StatusRecord& record) = 0;
  // The record, also to the host through the status port when the VM has one (host_port.hpp);
  // bounded in time. Nothing to do (and success) without a port.
  virtual Result<void> send_status_to_host(const StatusRecord& record) = 0;

  virtual Result<void> power(PowerAction action, std::chrono::seconds delay) = 0;

  // Waits, returning early (false) when the agent is asked to stop.
  virtual bool sleep(std::chrono::seconds d) = 0;
  // True once the agent has been asked to stop (SIGTERM/SIGINT).
  virtual bool stop_requested() = 0;
  // Tells systemd (and the log) which step the agent is in.
  virtual void notify_step(const std::string& step) = 0;
  // Time since the agent started.
  virtual std::chrono::seconds elapsed() = 0;
  // Arms the watchdog: unless disarmed or re-armed within `limit` (counted from now), it
  // carries out `action` itself, whatever the agent is blocked in (a hung server, the
  // kernel), unless the agent was asked to stop. A limit of 0 disarms it.
  virtual void arm_watchdog(std::chrono::seconds limit, PowerAction action) = 0;
};

}  // namespace smartvm::agent
