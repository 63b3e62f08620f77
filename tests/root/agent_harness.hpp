// Runs the real smartvm-agent binary as PID 1 of fresh mount and PID namespaces, so that its
// mounts vanish with it, and so that even a reboot(2) it makes only ends that namespace.
#pragma once

#include "process.hpp"
#include "status_record.hpp"
#include "temp_dir.hpp"

#include <optional>
#include <string>
#include <vector>

#define REQUIRE_ROOT()                                   \
  do {                                                   \
    if (!smartvm::test::running_as_root()) {             \
      WARN("skipped: needs root (mounts, setuid)");      \
      return;                                            \
    }                                                    \
  } while (0)

namespace smartvm::test {

class AgentScenario {
 public:
  AgentScenario();

  // The repository (a bind source, world-writable so `nobody` can create its workdir), the
  // mount point it is bound on, and the context directory.
  std::filesystem::path repo() const { return tmp_ / "repo"; }
  std::filesystem::path mountpoint() const { return tmp_ / "mnt"; }
  std::filesystem::path context() const { return tmp_ / "ctx"; }
  const TempDir& tmp() const { return tmp_; }

  // appliance.ini with [repository] filled in for the bind repository; `job` is the rest.
  void write_job(const std::string& job_sections, const std::string& repository_extra = "");

  ProcessResult run(std::vector<std::string> extra_args = {}, ProcessOptions opts = {}) const;
  // Runs `shell` as PID 1 of the namespaces; $AGENT names the binary, $T the temporary tree.
  ProcessResult run_shell(const std::string& shell, ProcessOptions opts = {}) const;

  std::optional<StatusRecord> status(const std::string& rel = "job/exit_status") const;

 private:
  TempDir tmp_;
};

std::string agent_path();
bool running_as_root();

}  // namespace smartvm::test
