// The job's place in the repository, prepared before the job starts: the workdir (created as
// the job's user), a proof that the repository takes writes (write, read back), and the status
// file's space reserved so that recording the result cannot fail for lack of space. After the
// job, its outputs made durable before the record says it is done.
#pragma once

#include "durable_file.hpp"
#include "status_record.hpp"
#include "system.hpp"
#include "unique_fd.hpp"

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace smartvm::agent {

struct LinuxWorkspace : Workspace {
  std::string mountpoint;
  UniqueFd root;     // O_PATH of the repository root: the anchor of every openat2
  UniqueFd workdir;  // O_RDONLY|O_DIRECTORY
  UniqueFd status_dir;
  std::string status_name;
  ReservedFile status;
  Credentials creds;
  mode_t umask = 022;  // the job's: files the agent makes for the job get the job's modes
  // The repository's filesystem, opened before the job for syncfs(2) (which takes no O_PATH
  // descriptor and reports the write errors since its descriptor was opened); whether syncfs
  // reaches stable storage there (see make_outputs_durable), and whether it did after the job:
  // then nothing of the job's is left to flush before the unmount.
  UniqueFd sync_handle;
  bool syncfs_durable = false;
  bool synced = false;
};

Result<std::unique_ptr<LinuxWorkspace>> prepare_workspace(const JobSpec& spec, const Credentials& creds);

// An output file of the job, for make_outputs_durable: its descriptor (-1: none) and the name
// its errors are given under ("stdout").
struct OutputFile {
  int fd;
  const char* name;
};

// Makes what the job wrote durable before the record says it is done: one syncfs(2) of the
// repository where that reaches stable storage (it covers the outputs and every other file
// of the job, and sets ws.synced), and fsync(2) of an output on another filesystem mounted
// below the repository's root; else, or when syncfs reports an error, fsync(2) of each
// output, which names the file that lost data. Returns those errors ("stdout: ...").
std::vector<std::string> make_outputs_durable(LinuxWorkspace& ws, std::initializer_list<OutputFile> outputs);

// The final record: into the reserved space, durably. When the job replaced the reserved file
// (tampering), the record says so in record_tampered and is written anew; the returned text
// says what was found then, empty otherwise.
Result<std::string> commit_status(LinuxWorkspace& ws, StatusRecord record);

// "<status file>.heartbeat": the running job's progress, replaced atomically (not fsynced:
// it is advisory, the status file is the record). Removed once the status is recorded.
Result<void> write_heartbeat(LinuxWorkspace& ws, pid_t pid, StatusRecord::Clock::time_point started,
                             double cpu_seconds);
void remove_heartbeat(LinuxWorkspace& ws);

}  // namespace smartvm::agent
