// The job as a transient service of systemd's, when the agent itself runs as a systemd service.
//
// Why: whatever a service's unit restricts (system call filters, address families, namespaces)
// is inherited by every process the service forks. Started by systemd instead of forked by
// the agent, the job is free of the agent's hardening (smartvm-agent.service can be locked
// down) and shows up as a unit of its own (`systemctl status smartvm-job-PID`,
// `journalctl -u`, resource accounting).
//
// The unit keeps the job's results readable until the agent has read them: the ExecStart
// command's failure is ignored and RemainAfterExit=yes holds the unit "active (exited)" after
// the job's main process ends, so systemd neither kills what the job left behind nor removes
// the cgroup (memory.peak, cpu.stat, memory.events) before the agent counts and reads it. The
// real exit code and signal stay in ExecMainCode/ExecMainStatus. The agent talks to systemd
// over its private socket: no dependency on dbus-daemon, which may stop before the agent at
// shutdown.
#pragma once

#include "error.hpp"
#include "event_sink.hpp"

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sd_bus;
struct sd_bus_slot;

namespace smartvm::agent {

struct JobUnitEvents;

struct JobUnitSpec {
  std::string name;  // "smartvm-job-1234.service"
  std::string description;
  std::vector<std::string> argv;  // argv[0] is the path executed
  std::vector<std::string> env;   // "KEY=value"
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string workdir;  // absolute path
  mode_t umask = 022;
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // passed to systemd, which dups them
  std::chrono::seconds kill_grace{10};
  std::string stop_after;  // the agent's own unit: at shutdown systemd stops the agent first
  EventSink events;        // a lost connection, a unit stopped from outside
};

class JobUnit {
 public:
  // True when the agent runs as a systemd service on a systemd-booted system, with
  // libsystemd loadable: then the job can be a unit of its own.
  static bool available();
  // The service the agent runs as ("smartvm-agent.service"), "" when none.
  static std::string own_unit();

  // Starts the unit and returns once systemd has executed the job (Type=exec), or with the
  // reason it could not.
  static Result<JobUnit> start(const JobUnitSpec& spec);

  JobUnit(JobUnit&& other) noexcept;
  JobUnit& operator=(JobUnit&&) = delete;
  ~JobUnit();  // stops the unit (killing what is left) and lets systemd forget it

  const std::string& name() const { return name_; }
  pid_t main_pid() const { return main_pid_; }
  // The unit's cgroup, relative to the cgroup2 mount ("" when systemd has none for it).
  const std::string& cgroup() const { return cgroup_; }

  // The connection's descriptor: readable when systemd has something to say; -1 while there
  // is no connection (process() tries again).
  int fd() const;
  // Changes whenever fd() is a new connection's.
  unsigned generation() const { return generation_; }
  // Handles what has arrived, reconnecting when systemd closed the connection; true when the
  // unit's state may have changed.
  bool process();
  // The main process's wait(2)-style status once it has ended, else nothing.
  std::optional<int> main_exit_status();

  // Sends `sig` to every process of the unit (systemd does the signalling, so the agent
  // needs no CAP_KILL over the job's user).
  Result<void> kill(int sig);

 private:
  JobUnit() = default;
  Result<void> connect();  // systemd's private socket, subscribed, the unit's changes matched
  void disconnect();
  Result<std::string> property_string(const char* iface, const char* name);
  template <typename T>
  Result<T> property(const char* iface, const char* name, char type);

  sd_bus* bus_ = nullptr;
  sd_bus_slot* changes_ = nullptr;
  std::unique_ptr<JobUnitEvents> events_;
  std::string name_, path_, cgroup_;
  EventSink sink_;
  pid_t main_pid_ = 0;
  unsigned generation_ = 0;
  std::optional<int> exit_status_;
};

}  // namespace smartvm::agent
