// A node for smartvm-run's VM tests: a private libvirtd (tests/support/libvirtd, under a
// subreaper) whose QEMU driver boots the tiny guest as a TCG domain, a service catalog, an
// empty golden image and a runtime directory for the jobs' files, all in the test's directory.
// Every domain goes before the libvirtd does, even when a check failed.
#pragma once

#include "libvirtd.hpp"
#include "process.hpp"
#include "status_record.hpp"
#include "temp_dir.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::test {

class RunNode {
 public:
  RunNode();
  ~RunNode();
  RunNode(const RunNode&) = delete;
  RunNode& operator=(const RunNode&) = delete;

  // A service whose job is `/bin/sh -c SCRIPT` as root in the guest's own tree (no repository).
  void service(const std::string& name, const std::string& script,
               const std::string& repository = "[repository]\ntype = none\nmountpoint = /tmp\n");
  // smartvm-run's command line for `service` on this node.
  std::vector<std::string> run_args(const std::string& service, const std::string& job_id,
                                    const std::string& uri = "") const;
  ProcessResult run(const std::string& service, const std::string& job_id, std::vector<std::string> extra = {},
                    std::function<bool(pid_t)> while_running = {}) const;

  const TempDir& dir() const { return t_; }
  std::string jobs() const { return (t_ / "jobs").string(); }
  std::string uri() const { return libvirtd_.qemu_uri(); }
  std::string log() const { return libvirtd_.log(); }

  // Nothing of any job is left: no file in the runtime directory now, no domain in libvirt
  // within a few seconds (one whose guest powered itself off is libvirt's to remove).
  void check_nothing_left() const;

 private:
  TempDir t_;
  Libvirtd libvirtd_;
  MachineCgroupsCleanup cleanup_;
};

// The status record smartvm-run printed after the console (none when it printed none).
std::optional<StatusRecord> record_in(const std::string& out);
// smartvm-run exited with `exit_code`, and printed a record in `state`.
StatusRecord expect(const ProcessResult& r, int exit_code, JobState state);

}  // namespace smartvm::test
