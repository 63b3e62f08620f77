#include "context_locator.hpp"

#include <blkid/blkid.h>

namespace smartvm::agent {
namespace {

std::string scan_once(const std::string& label) {
  blkid_cache cache = nullptr;
  // "/dev/null" as the cache file: probe afresh every time and write nothing to /run.
  if (blkid_get_cache(&cache, "/dev/null") != 0) return {};
  blkid_probe_all(cache);            // devices in /proc/partitions
  blkid_probe_all_removable(cache);  // CD-ROMs and other removable devices, from /sys/block
  std::string found;
  if (blkid_dev dev = blkid_find_dev_with_tag(cache, "LABEL", label.c_str())) found = blkid_dev_devname(dev);
  blkid_put_cache(cache);
  return found;
}

}  // namespace

Result<std::string> find_device_by_label(const std::string& label, std::chrono::milliseconds wait,
                                         const std::function<bool(std::chrono::milliseconds)>& keep_waiting) {
  using namespace std::chrono;
  auto deadline = steady_clock::now() + wait;
  const milliseconds step(250);
  for (;;) {
    std::string dev = scan_once(label);
    if (!dev.empty()) return dev;
    if (steady_clock::now() >= deadline)
      return make_error("no filesystem labelled \"" + label + "\" appeared within " +
                        std::to_string(duration_cast<seconds>(wait).count()) + " s");
    if (!keep_waiting(step)) return make_error("stopped while waiting for the context labelled \"" + label + "\"");
  }
}

}  // namespace smartvm::agent
