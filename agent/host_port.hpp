// The status record to the host, through the virtio-serial port the launcher gives every job
// VM (org.smartvm.status.0): the host then learns every outcome, also setup failures that
// never reach the repository. The repository's record stays the durable one; this copy is
// best effort and bounded in time, because a port whose host end nobody has opened takes a
// write without ever completing it, and the VM must still power off.
#pragma once

#include "error.hpp"

#include <chrono>
#include <string>

namespace smartvm::agent {

inline constexpr const char* kStatusPortName = "org.smartvm.status.0";

// The port's device: /dev/virtio-ports/NAME (udev's link), else the /dev/vportNpM whose
// /sys/class/virtio-ports/*/name is NAME (a guest without udev); "" when there is none.
std::string find_virtio_port(const std::string& name, const std::string& dev_root = "/dev",
                             const std::string& sys_root = "/sys");

// Writes `text` to `path` (a character device or a FIFO) within `deadline`: opened and
// written without blocking, waiting for room with poll(2). A reader that is absent or never
// reads costs at most the deadline and an error that says so.
Result<void> write_to_port(const std::string& path, const std::string& text, std::chrono::milliseconds deadline);

}  // namespace smartvm::agent
