// Block I/O limits written into a guest's cgroup: the throttle backend for hypervisors whose
// libvirt driver cannot tune block I/O (Xen's libxl), given the directory of the cgroup that
// holds the guest's I/O (its device model or qdisk backend). cgroup v2 writes io.max; v1
// writes blkio.throttle.{read,write}_{bps,iops}_device; whichever the directory has.
#pragma once

#include "error.hpp"
#include "io_limits.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct BlockDevice {
  unsigned major = 0, minor = 0;
  bool operator==(const BlockDevice&) const = default;
  std::string text() const { return std::to_string(major) + ":" + std::to_string(minor); }
};

// The whole disk behind a disk image file or block device: block throttling applies to
// disks, so a partition is traded for the disk that holds it (from sysfs).
Result<BlockDevice> block_device_of(const std::string& path, const std::string& sysfs_root = "/sys");

// The cgroup directory for a guest: %n, %u and %i in the template become its name, uuid and id.
std::string expand_cgroup_template(const std::string& tmpl, const std::string& name, const std::string& uuid, int id);

// Sets the limits for each device (0 fields remove that limit).
Result<void> apply_cgroup_limits(const std::string& dir, const std::vector<BlockDevice>& devices, const IoLimits& limits);
// The limits the cgroup has for a device now.
Result<IoLimits> cgroup_limits(const std::string& dir, const BlockDevice& device);

// cgroup v1 counts a cgroup's I/O on a disk (blkio.throttle.io_service_bytes, io_serviced)
// only once blk-throttle is active on that disk's queue, which the first rule written for the
// disk in any cgroup does (the kernel sets it up lazily; measured on 6.18: 8 MiB of direct
// writes counted as 0 before, 8 MiB after). A rule of 0, "none", for a device with no read
// limit in `dir` activates it and limits nothing. Nothing to do for v2, whose io.stat counts
// regardless.
Result<void> enable_io_accounting(const std::string& dir, const BlockDevice& device);

// What the cgroup's processes did, all devices: read bytes, write bytes, read and write
// operations (v1 blkio.throttle.io_service_bytes and io_serviced; v2 io.stat).
Result<std::array<uint64_t, 4>> cgroup_io_counters(const std::string& dir);

}  // namespace smartvm::nodeld
