// Runs the job to its end in one Boost.Asio loop: SIGTERM/SIGINT to the agent cancel, timers
// enforce the timeout, the kill grace and the heartbeat, and two pumps copy stdout and stderr.
// Under systemd the job is a transient service of its own (job_unit.hpp), and systemd's
// signals say when its main process ends; otherwise it is the agent's child, reaped on
// SIGCHLD, in a cgroup of its own when possible, and the agent is a child subreaper in any
// case. Either way nothing the job started survives it: after the job's main process exits,
// whatever is left gets SIGTERM, then SIGKILL after kill_grace, repeated until no process of
// the job remains.
#pragma once

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
};

StatusRecord run_job_process(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws,
                             const RunnerSettings& settings = {});

}  // namespace smartvm::agent
