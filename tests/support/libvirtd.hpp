// A real libvirtd for one test, serving libvirt's test driver over a Unix socket in the test's
// directory (test+unix:///default?socket=...), and its QEMU driver for real TCG domains. It
// runs in a private mount namespace with its own /run, /etc/libvirt, /var/lib/libvirt,
// /var/cache/libvirt and /var/log/libvirt (and a passwd with the
// libvirt-qemu user its qemu driver insists on), so that nothing of it leaks onto the host; it
// is stopped by the PID recorded when it started. It runs under smartvm-test-subreaper, which
// reaps its qemu processes as soon as they exit (PID 1 here does so late).
#pragma once

#include "background_process.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::test {

class Libvirtd {
 public:
  explicit Libvirtd(const TempDir& dir);
  // Starts it and waits for its socket; false if it did not come up (its log says why).
  bool start();
  void stop();
  // The URI of its test driver.
  std::string uri() const;
  // The URI of its QEMU driver (domains type='qemu', TCG; their logs stay in the test's tree).
  std::string qemu_uri() const;
  std::string log() const;

 private:
  std::string root_;
  std::unique_ptr<BackgroundProcess> process_;
};

// Destroys every domain at `uri`: a qemu outlives its libvirtd, so a test that may have left
// one (a failed check, a program killed at its time limit) calls this before stopping it.
void destroy_domains(const std::string& uri);

// Waits up to `bound` until no domain is left at `uri` (one whose guest powered itself off is
// removed by libvirt itself, after smartvm-run's exit): how long that took, or nothing if one
// is still there (or libvirtd cannot be reached).
std::optional<std::chrono::milliseconds> wait_domains_gone(const std::string& uri, std::chrono::milliseconds bound);

// libvirt's QEMU driver leaves a domain's empty cgroups behind (under "machine" in every v1
// controller). Made before the domain, this removes them when it goes: every directory whose
// path holds `domain_name`, and the "machine" parents that were not there before.
class MachineCgroupsCleanup {
 public:
  explicit MachineCgroupsCleanup(std::string domain_name);
  ~MachineCgroupsCleanup();
  MachineCgroupsCleanup(const MachineCgroupsCleanup&) = delete;
  MachineCgroupsCleanup& operator=(const MachineCgroupsCleanup&) = delete;

 private:
  std::string domain_name_;
  std::vector<std::filesystem::path> had_;
};

}  // namespace smartvm::test
