// The job description inside a context: appliance.ini, or for OpenNebula-style contexts a
// context.sh whose SMARTVM_<SECTION>_<KEY> variables stand for appliance.ini's keys
// (SMARTVM_JOB_COMMAND is [job] command, SMARTVM_ENV_OMP_NUM_THREADS is [env] OMP_NUM_THREADS).
// context.sh is read as data: only KEY='value' assignments are understood, nothing is run.
#pragma once

#include "error.hpp"
#include "ini_document.hpp"

#include <string>
#include <string_view>

namespace smartvm {

IniDocument parse_context_sh(std::string_view text, std::string filename = "context.sh");

// Reads appliance.ini from `dir`, or context.sh when there is no appliance.ini.
// (Paths are plain strings here: std::filesystem would drag all of iostreams into the statically
// linked libstdc++ of the agent, tripling its size.)
Result<IniDocument> read_context_document(const std::string& dir);

}  // namespace smartvm
