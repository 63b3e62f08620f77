// Runs the job to its end in one Boost.Asio loop: SIGCHLD reaps, SIGTERM/SIGINT to the agent
// cancel, timers enforce the timeout, the kill grace and the heartbeat, and two pumps copy
// stdout and stderr. The job is contained in a cgroup of its own when possible, and the agent
// is a child subreaper in any case, so that nothing the job started survives it: after the
// job's main process exits, whatever is left gets SIGTERM, then SIGKILL after kill_grace,
// repeated until no process of the job remains.
#pragma once

#include "status_record.hpp"
#include "system.hpp"
#include "workspace.hpp"

namespace smartvm::agent {

struct RunnerSettings {
  bool use_cgroup = true;
  std::string unified_root;  // "" = find the cgroup2 mount
};

StatusRecord run_job_process(const JobSpec& spec, const Credentials& creds, LinuxWorkspace& ws,
                             const RunnerSettings& settings = {});

}  // namespace smartvm::agent
