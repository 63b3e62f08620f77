// Looks up the job's user and groups in the guest's user database (NSS), before anything is
// mounted, so that an unknown user is a clear error and not a failed exec.
#pragma once

#include "system.hpp"

namespace smartvm::agent {

Result<Credentials> lookup_credentials(const JobSpec& spec);

}  // namespace smartvm::agent
