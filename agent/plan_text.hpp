// The human-readable plan that --dry-run prints.
#pragma once

#include "job_spec.hpp"
#include "system.hpp"

#include <string>

namespace smartvm::agent {

std::string describe_plan(const std::string& context, const JobSpec& spec, const Credentials& creds);

}  // namespace smartvm::agent
