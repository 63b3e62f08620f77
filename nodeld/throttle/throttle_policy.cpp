#include "throttle_policy.hpp"

#include "config_reader.hpp"
#include "xml_tree.hpp"

#include <fnmatch.h>

#include <charconv>

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<ThrottleOverride> parse_throttle_element(const std::string& xml) {
  auto parsed = parse_xml_tree(xml, "throttle metadata");
  if (!parsed) return parsed.error();
  const pt::ptree& tree = *parsed;
  ThrottleOverride out;
  if (tree.empty()) return out;
  const pt::ptree& element = tree.begin()->second;
  auto attributes = element.get_child_optional("<xmlattr>");
  if (!attributes) return out;
  for (const auto& [name, value] : *attributes) {
    int i = 0;
    while (i < 4 && name != throttle_keys[i]) ++i;
    if (i == 4) {
      if (name.rfind("xmlns", 0) == 0) continue;
      return make_error("throttle metadata: unknown attribute " + name + " (read_bytes_sec, write_bytes_sec, read_iops_sec, write_iops_sec)");
    }
    std::string text = value.data();
    std::optional<uint64_t> v;
    if (i < 2) {
      v = parse_size(text);
    } else if (uint64_t n = 0; !text.empty()) {
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && p == text.data() + text.size()) v = n;
    }
    if (!v) return make_error("throttle metadata: " + name + "=\"" + text + "\" is not " + (i < 2 ? "a byte count (K, M, G, T suffixes)" : "a number"));
    out.limits[static_cast<size_t>(i)] = *v;
  }
  return out;
}

std::string throttle_element(const char* name, const IoLimits& limits) {
  std::string out = "<";
  out += name;
  for (int i = 0; i < 4; ++i)
    out += std::string(" ") + throttle_keys[i] + "=\"" + std::to_string(limits.*IoLimits::fields[i]) + "\"";
  return out + "/>";
}

IoLimits resolve_throttle_policy(const IoLimits& defaults, const std::vector<ThrottleOverride>& sections,
                                 const std::string& domain, const ThrottleOverride* metadata) {
  IoLimits out = defaults;
  auto apply = [&](const ThrottleOverride& o) {
    for (size_t i = 0; i < 4; ++i)
      if (o.limits[i]) out.*IoLimits::fields[i] = *o.limits[i];
  };
  for (const ThrottleOverride& s : sections)
    if (fnmatch(s.pattern.c_str(), domain.c_str(), 0) == 0) {
      apply(s);
      break;
    }
  if (metadata) apply(*metadata);
  return out;
}

}  // namespace smartvm::nodeld
