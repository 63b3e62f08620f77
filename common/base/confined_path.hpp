// Paths from a job's context are untrusted: each must stay inside the repository. This is
// the lexical half of the check (no filesystem access, so it also works before the
// repository is mounted and in smartvm-context). The agent repeats the check against the real
// tree with openat2(RESOLVE_BENEATH), which also catches symbolic links.
#pragma once

#include "error.hpp"

#include <string>
#include <string_view>

namespace smartvm {

// Normalizes `path` relative to the directory `base` (itself already normalized and
// relative to the repository root; "" is the root) and returns the result relative to the
// root, without "." or ".." components and without a leading slash ("" for the root).
// Fails for an absolute path and for one whose ".." climbs above the root.
Result<std::string> confine_relative(std::string_view base, std::string_view path);

}  // namespace smartvm
