// How limits reach a guest's disks ([throttle] backend): libvirt's block I/O tune, or the
// cgroup that holds the guest's I/O (cgroup_limiter.hpp) for hypervisors whose libvirt driver
// cannot tune block I/O. The throttler decides what each guest gets; a backend only reads and
// writes limits, so that the throttler has no branch on which backend it drives.
#pragma once

#include "error.hpp"
#include "io_limits.hpp"
#include "libvirt_block_tune.hpp"
#include "throttle_policy.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace smartvm::nodeld {

class ThrottleBackend {
 public:
  virtual ~ThrottleBackend() = default;
  // The limits on the guest's disks now, the tightest of them (to tell nodeld's own from
  // somebody else's).
  virtual Result<IoLimits> current_limits(const GuestBlockLoad& g) = 0;
  // Puts `limits` on every disk of the guest and records them as nodeld's own.
  virtual Result<void> apply(const GuestBlockLoad& g, const IoLimits& limits) = 0;
  // The guest's I/O as the limits see it (read bytes, write bytes, read and write operations);
  // none: libvirt's counters in `g` are the ones.
  virtual std::optional<std::array<uint64_t, 4>> counters(const GuestBlockLoad& g) = 0;
};

// Block I/O tune through libvirt; the limits are recorded in the domain's metadata.
class LibvirtThrottleBackend : public ThrottleBackend {
 public:
  explicit LibvirtThrottleBackend(std::shared_ptr<LibvirtBlockTune> libvirt) : libvirt_(std::move(libvirt)) {}
  Result<IoLimits> current_limits(const GuestBlockLoad& g) override;
  Result<void> apply(const GuestBlockLoad& g, const IoLimits& limits) override;
  std::optional<std::array<uint64_t, 4>> counters(const GuestBlockLoad&) override { return std::nullopt; }

 private:
  std::shared_ptr<LibvirtBlockTune> libvirt_;
};

// Limits in the guest's cgroup (`cgroup`: a template, %n %u %i) on the host disks behind its
// disk sources (found through `sysfs_root`); recorded in the domain's metadata through libvirt
// when the driver keeps metadata.
class CgroupThrottleBackend : public ThrottleBackend {
 public:
  // `say` hears of a record the driver did not keep (debug).
  CgroupThrottleBackend(std::string cgroup, std::string sysfs_root, std::shared_ptr<LibvirtBlockTune> libvirt,
                        LibvirtConnection::SayFn say = nullptr)
      : cgroup_(std::move(cgroup)), sysfs_root_(std::move(sysfs_root)), libvirt_(std::move(libvirt)), say_(std::move(say)) {}
  Result<IoLimits> current_limits(const GuestBlockLoad& g) override;
  Result<void> apply(const GuestBlockLoad& g, const IoLimits& limits) override;
  std::optional<std::array<uint64_t, 4>> counters(const GuestBlockLoad& g) override;

 private:
  std::string directory(const GuestBlockLoad& g) const;
  std::string cgroup_;
  std::string sysfs_root_;
  std::shared_ptr<LibvirtBlockTune> libvirt_;
  LibvirtConnection::SayFn say_;
};

// The backend `kind` names; the one place that chooses.
std::unique_ptr<ThrottleBackend> make_throttle_backend(ThrottleBackendKind kind, const std::string& cgroup,
                                                       const std::string& sysfs_root, std::shared_ptr<LibvirtBlockTune> libvirt,
                                                       LibvirtConnection::SayFn say = nullptr);

}  // namespace smartvm::nodeld
