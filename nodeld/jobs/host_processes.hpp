// The host's processes as /proc shows them: each pid's command name (comm), which tells a live
// smartvm-run from a process that got its pid after it died.
#pragma once

#include "error.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace smartvm::nodeld {

// pid -> comm of every process under `proc_root` (/proc). A process that ends during the scan
// is left out; /proc that cannot be read is an error.
Result<std::map<int64_t, std::string>> read_process_names(const std::string& proc_root);

// Whether `proc_root` shows every user's processes: not when it is mounted with hidepid (as
// systemd's ProtectProc=invisible mounts it), or when that cannot be told.
bool all_processes_visible(const std::string& proc_root);

// Whether a process `pid` exists, by kill(pid, 0): one that /proc hides from nodeld exists too
// (EPERM). Only "no such process" (ESRCH) is false.
bool process_exists(int64_t pid);

}  // namespace smartvm::nodeld
