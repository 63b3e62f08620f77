// Running a helper program (xorriso, qemu-img) without a shell and capturing what it says.
#pragma once

#include "error.hpp"

#include <string>
#include <vector>

namespace smartvm {

// Runs argv (looked up in PATH unless argv[0] has a slash) with stdout and stderr captured
// into `output`; returns its exit status (128+N when killed by signal N). An error only when
// it could not be started.
Result<int> run_captured(const std::vector<std::string>& argv, std::string& output);

}  // namespace smartvm
