// What the job is started with, prepared before it starts: its command line (a command in the
// repository checked beneath the repository's root, as the job's user), its environment (a
// minimal one, with the job's own variables over it) and its output files.
#pragma once

#include "containment.hpp"
#include "job_spec.hpp"
#include "unique_fd.hpp"
#include "workspace.hpp"

#include <string>
#include <vector>

namespace smartvm::agent {

// The launch without its descriptors (stdio), which the runner adds.
Result<JobLaunch> prepare_launch(const JobSpec& spec, const Credentials& creds, const LinuxWorkspace& ws);

// PATH, HOME and USER, each replaced by the job's variable of that name; then the job's own.
std::vector<std::string> job_environment(const JobSpec& spec, const Credentials& creds);

// Creates (truncates) the output file `rel` beneath the repository as the job's user; a FIFO
// or anything else that is not a regular file is refused, never waited on. `key` names the
// setting in errors ("[job] stdout").
Result<UniqueFd> open_job_output(const LinuxWorkspace& ws, const JobSpec& spec, const Credentials& creds,
                                 const std::string& rel, const std::string& key);

}  // namespace smartvm::agent
