// The real System: libblkid, libmount, NSS, openat2, fork/exec, sd-bus, reboot(2).
#pragma once

#include "job_runner.hpp"
#include "smartvm_version.hpp"
#include "system.hpp"
#include "unique_fd.hpp"
#include "watchdog.hpp"

#include <atomic>
#include <chrono>
#include <string>

namespace smartvm::agent {

struct LinuxSystemSettings {
  std::chrono::seconds context_wait{60};
  std::string runtime_dir = kRuntimeDir;  // where the context is mounted
  std::string status_port;                 // "" = the org.smartvm.status.0 port, if the VM has one
  std::chrono::milliseconds status_port_deadline{3000};
  RunnerSettings runner;
  EventSink events;  // what happens outside the job's run, for the top level to log
};

// True while SIGTERM or SIGINT waits, blocked, for the agent to take it: the agent was asked to
// stop, whether or not a thread of it could look yet.
bool stop_pending();

class LinuxSystem : public System {
 public:
  explicit LinuxSystem(LinuxSystemSettings settings);
  ~LinuxSystem() override;

  Result<std::string> find_context(const std::string& label) override;
  Result<std::string> mount_context(const std::string& source) override;
  void unmount_context() override;
  Result<Credentials> resolve_credentials(const JobSpec& spec) override;
  Result<void> mount_repository(const RepositorySpec& repo, std::chrono::seconds limit) override;
  Result<void> unmount_repository(const RepositorySpec& repo) override;
  Result<std::unique_ptr<Workspace>> prepare_workspace(const JobSpec& spec, const Credentials& creds) override;
  StatusRecord run_job(const JobSpec& spec, const Credentials& creds, Workspace& ws) override;
  Result<void> record_status(Workspace& ws, const StatusRecord& record) override;
  Result<void> send_status_to_host(const StatusRecord& record) override;
  Result<void> power(PowerAction action, std::chrono::seconds delay) override;
  bool sleep(std::chrono::seconds d) override;
  bool stop_requested() override;
  void notify_step(const std::string& step) override;
  std::chrono::seconds elapsed() override;
  void arm_watchdog(std::chrono::seconds limit, PowerAction action) override;

 private:
  bool wait_for_stop(std::chrono::milliseconds d);
  void watchdog_expired(PowerAction action, std::chrono::seconds limit, const std::string& step);
  void say(log::Level level, const std::string& message) const { tell(settings_.events, level, message); }

  LinuxSystemSettings settings_;
  std::string context_mount_;  // "" when the context is a directory used as it is
  std::atomic<bool> stop_ = false;  // read by the watchdog's thread too
  // The record is committed after a syncfs of the repository: nothing is left to flush there.
  bool repository_durable_ = false;
  // Readable while a stop signal is pending (they are blocked): a bounded mount waits on it.
  UniqueFd stop_fd_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Watchdog watchdog_;  // last: its thread may call back into the members above
};

}  // namespace smartvm::agent
