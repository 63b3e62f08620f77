// Per-disk I/O limits of a guest: what the sysadmin's policy allows, what the adaptive
// controller caps it to, and what is applied to the hypervisor. 0 means "no limit" for a
// field, as in libvirt's block I/O tune and the [throttle] keys.
#pragma once

#include <algorithm>
#include <cstdint>

namespace smartvm::nodeld {

struct IoLimits {
  uint64_t read_bytes_sec = 0, write_bytes_sec = 0, read_iops_sec = 0, write_iops_sec = 0;

  bool any() const { return read_bytes_sec || write_bytes_sec || read_iops_sec || write_iops_sec; }
  bool operator==(const IoLimits&) const = default;

  // The four fields in one order, for code that treats them alike.
  static constexpr uint64_t IoLimits::*fields[4] = {&IoLimits::read_bytes_sec, &IoLimits::write_bytes_sec,
                                                     &IoLimits::read_iops_sec, &IoLimits::write_iops_sec};
};

// The tighter of two limits, field by field (0 is no limit, so it never wins over a limit).
inline uint64_t tighter(uint64_t a, uint64_t b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

inline IoLimits tighter(const IoLimits& a, const IoLimits& b) {
  IoLimits out;
  for (auto f : IoLimits::fields) out.*f = tighter(a.*f, b.*f);
  return out;
}

}  // namespace smartvm::nodeld
