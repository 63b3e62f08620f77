// Which static limits apply to a guest: the [throttle] defaults, then the first [throttle:GLOB]
// section whose glob matches the domain's name, then the domain's own libvirt <metadata>
// element in the smartvm throttle namespace; each later one overrides only the keys it gives.
//
//   <metadata>
//     <throttle xmlns="http://smartvm.org/xmlns/libvirt/throttle/1" write_bytes_sec="20M"/>
//   </metadata>
#pragma once

#include "error.hpp"
#include "io_limits.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

enum class ThrottleMode { fixed, adaptive };  // "static" in the file; static is a C++ keyword
enum class ThrottleBackendKind { libvirt, cgroup };

inline constexpr const char* throttle_policy_namespace = "http://smartvm.org/xmlns/libvirt/throttle/1";
// Where nodeld records, on the running domain, the limits it applied: after a restart of
// nodeld, limits that match this record are its own, all others are somebody else's.
inline constexpr const char* throttle_applied_namespace = "http://smartvm.org/xmlns/libvirt/throttle-applied/1";

// Some of the four limits, in IoLimits::fields order; unset ones are inherited.
struct ThrottleOverride {
  std::string pattern;  // [throttle:GLOB]; "" for a domain's metadata
  std::array<std::optional<uint64_t>, 4> limits;
};

inline constexpr const char* throttle_keys[4] = {"read_bytes_sec", "write_bytes_sec", "read_iops_sec", "write_iops_sec"};

// The <throttle .../> element libvirt's virDomainGetMetadata returns (any element name, the
// four attributes; byte counts take K, M, G, T). Errors name the attribute and value.
Result<ThrottleOverride> parse_throttle_element(const std::string& xml);
// The same element for the applied record.
std::string throttle_element(const char* name, const IoLimits& limits);

IoLimits resolve_throttle_policy(const IoLimits& defaults, const std::vector<ThrottleOverride>& sections,
                                 const std::string& domain, const ThrottleOverride* metadata);

}  // namespace smartvm::nodeld
