// Finds the context filesystem by its label with libblkid: one scan of the block devices the
// kernel knows (including removable ones such as a CD-ROM), repeated until the device shows up
// or the wait runs out. No udev is needed, so this also works from an initramfs.
#pragma once

#include "error.hpp"

#include <chrono>
#include <functional>
#include <string>

namespace smartvm::agent {

// `keep_waiting` is asked between scans; returning false stops early (the agent was told to stop).
Result<std::string> find_device_by_label(const std::string& label, std::chrono::milliseconds wait,
                                         const std::function<bool(std::chrono::milliseconds)>& keep_waiting);

}  // namespace smartvm::agent
