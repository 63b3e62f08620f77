// Runs the job to its end in one Boost.Asio loop, which feeds the Supervisor (supervisor.hpp,
// the rules: timeout, SIGTERM, kill grace, SIGKILL, leftovers, drain) what happens and carries
// out what it decides: SIGTERM/SIGINT to the agent cancel, one timer serves the supervisor's
// deadlines, two pumps copy stdout and stderr, and a Containment (containment.hpp) starts the
// job and holds its processes: a transient systemd service of its own under systemd, else the
// agent's child, in a cgroup of its own when possible, the agent a child subreaper in any case.
// Either way nothing the job started survives it.
#pragma once

#include "containment.hpp"
#include "status_record.hpp"
#include "system.hpp"
#include "workspace.hpp"

namespace smartvm::agent {

struct RunnerSettings {
  // Run the job as a transient systemd service (job_unit.hpp) rather than as the agent's child.
  bool systemd_unit = false;
  std::string own_unit;  // the agent's service, which the job's unit is stopped after
  bool use_cgroup = true;    // as the agent's child: in a cgroup of its own below the agent's
  std::string unified_root;  // "" = find the cgroup2 mount
  EventSink events;          // what happens while the job runs, for the top level to log
  // Each heartbeat's outcome: "" when it was written, else why not (the top level says a
  // problem once, not at every interval).
  std::function<void(const std::string& problem)> heartbeat_outcome;
};

StatusRecord run_job_process(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws,
                             const RunnerSettings& settings = {});

}  // namespace smartvm::agent
