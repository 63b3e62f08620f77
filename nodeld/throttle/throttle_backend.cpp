#include "throttle_backend.hpp"

#include "cgroup_limiter.hpp"

#include <algorithm>

namespace smartvm::nodeld {

Result<IoLimits> LibvirtThrottleBackend::current_limits(const GuestBlockLoad& g) {
  IoLimits tightest;
  for (const GuestDisk& d : g.disks) {
    auto l = libvirt_->block_tune(g.uuid, d.target);
    if (!l) return l.error();
    tightest = tighter(tightest, *l);
  }
  return tightest;
}

Result<void> LibvirtThrottleBackend::apply(const GuestBlockLoad& g, const IoLimits& limits) {
  return libvirt_->set_block_tune(g.uuid, g.disks, limits);
}

std::string CgroupThrottleBackend::directory(const GuestBlockLoad& g) const {
  return expand_cgroup_template(cgroup_, g.name, g.uuid, g.id);
}

Result<IoLimits> CgroupThrottleBackend::current_limits(const GuestBlockLoad& g) {
  IoLimits tightest;
  std::string dir = directory(g);
  for (const GuestDisk& d : g.disks) {
    if (d.source.empty()) continue;
    auto dev = block_device_of(d.source, sysfs_root_);
    if (!dev) return dev.error();
    // First sight of the guest: its counters must count from here on (cgroup v1).
    if (auto r = enable_io_accounting(dir, *dev); !r) return r.error();
    auto l = cgroup_limits(dir, *dev);
    if (!l) return l.error();
    tightest = tighter(tightest, *l);
  }
  return tightest;
}

Result<void> CgroupThrottleBackend::apply(const GuestBlockLoad& g, const IoLimits& limits) {
  std::vector<BlockDevice> devices;
  for (const GuestDisk& d : g.disks) {
    if (d.source.empty()) continue;
    auto dev = block_device_of(d.source, sysfs_root_);
    if (!dev) return dev.error().context("disk " + d.target);
    if (std::find(devices.begin(), devices.end(), *dev) == devices.end()) devices.push_back(*dev);
  }
  if (auto r = apply_cgroup_limits(directory(g), devices, limits); !r) return r;
  // The record lets a restarted nodeld know these limits as its own; a driver without
  // metadata only costs that knowledge.
  if (auto r = libvirt_->record_applied(g.uuid, limits); !r && say_) say_(log::Level::debug, "domain " + g.name + ": " + r.error().message);
  return {};
}

std::optional<std::array<uint64_t, 4>> CgroupThrottleBackend::counters(const GuestBlockLoad& g) {
  // What the host's disk saw of the guest (its qdisk or device model's I/O); libvirt's
  // counters when the cgroup has none.
  auto c = cgroup_io_counters(directory(g));
  if (!c) return std::nullopt;
  return *c;
}

std::unique_ptr<ThrottleBackend> make_throttle_backend(ThrottleBackendKind kind, const std::string& cgroup,
                                                       const std::string& sysfs_root, std::shared_ptr<LibvirtBlockTune> libvirt,
                                                       LibvirtConnection::SayFn say) {
  if (kind == ThrottleBackendKind::cgroup)
    return std::make_unique<CgroupThrottleBackend>(cgroup, sysfs_root, std::move(libvirt), std::move(say));
  return std::make_unique<LibvirtThrottleBackend>(std::move(libvirt));
}

}  // namespace smartvm::nodeld
