// What holds the job's processes together, so that nothing the job starts outlives it: the
// runner (job_runner.cpp) starts the job through a Containment, asks it how many processes
// are left, signals them through it, and reads what they used from it. Three
// implementations, chosen by make_containment():
//   UnitContainment      a transient systemd service of its own (unit_containment.hpp)
//   CgroupContainment    the agent's child in a cgroup v2 of its own (cgroup_containment.hpp)
//   SubreaperContainment the agent's child, the agent a child subreaper (subreaper_containment.hpp)
#pragma once

#include "error.hpp"
#include "event_sink.hpp"
#include "system.hpp"

#include <boost/asio/io_context.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::agent {

// Everything a containment needs to start the job, prepared by the runner.
struct JobLaunch {
  std::vector<std::string> argv;  // argv[0] is the path executed
  std::vector<std::string> env;   // "KEY=value"
  const Credentials* creds = nullptr;
  mode_t umask = 022;
  int workdir_fd = -1;  // the job's working directory, opened: for a forked job
  std::string workdir;  // the same as an absolute path: for systemd
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  std::chrono::seconds kill_grace{10};
};

// What the job's processes used, for the status record.
struct JobUsage {
  double user_seconds = 0, system_seconds = 0;
  uint64_t max_rss_kib = 0;
  std::optional<uint64_t> memory_peak_kib;  // only a cgroup knows
  uint64_t oom_kills = 0;
};

class Containment {
 public:
  // Called from the runner's loop: the main process ended (with a wait(2) status), or
  // something else about the job may have changed (a process went, systemd said something).
  struct Hooks {
    std::function<void(int status)> main_exited;
    std::function<void()> changed;
    EventSink events;
  };

  virtual ~Containment() = default;

  // For the status record: "systemd", "cgroup" or "subreaper"; "" while nothing contains the job.
  virtual std::string name() const = 0;
  // For the log: where the job runs (" in smartvm-job-1.service"), "" for the agent's child.
  virtual std::string where() const { return {}; }

  // Starts the job, watching it from `io`; returns its main process.
  virtual Result<pid_t> start(const JobLaunch& launch, boost::asio::io_context& io, Hooks hooks) = 0;
  // Processes of the job still running.
  virtual size_t process_count() const = 0;
  // Nothing of the job is left, and nothing is left to reap.
  virtual bool empty() const { return process_count() == 0; }
  // To every process of the job.
  virtual void signal(int sig) = 0;
  // The CPU time the job used so far, as far as it can be counted while it runs (0 when not).
  virtual double cpu_seconds() const { return 0; }
  // Nothing of the job runs any more: let go of what held it.
  virtual void release() {}
  // True when a copy of the output pipes' write ends lives on after the job (systemd keeps
  // those it was given as long as the unit exists): the output then ends when the pipes are
  // empty, not at an EOF.
  virtual bool holds_output_writers() const { return false; }
  // Stops watching the job: the runner's loop is ending.
  virtual void stop_watching() = 0;
  // What the job used, once it has ended.
  virtual JobUsage usage() const = 0;
};

struct RunnerSettings;
// The containment `settings` ask for; a job cgroup that cannot be made is reported and the
// subreaper used instead.
std::unique_ptr<Containment> make_containment(const RunnerSettings& settings, const EventSink& events);

}  // namespace smartvm::agent
