#include "domain_interfaces.hpp"

#include "xml_tree.hpp"

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml) {
  auto parsed = parse_xml_tree(domain_xml, "domain XML");
  if (!parsed) return parsed.error();
  const pt::ptree& tree = *parsed;
  std::vector<GuestInterface> out;
  auto devices = tree.get_child_optional("domain.devices");
  if (!devices) return out;
  for (const auto& [tag, interface] : *devices) {
    if (tag != "interface") continue;
    GuestInterface g;
    g.device = interface.get("target.<xmlattr>.dev", "");
    for (const auto& [child, node] : interface) {
      if (child != "ip") continue;
      std::string family = node.get("<xmlattr>.family", "ipv4");
      std::string address = node.get("<xmlattr>.address", "");
      if (family == "ipv4" && !address.empty()) g.addresses.push_back(address);
    }
    if (!g.device.empty() && !g.addresses.empty()) out.push_back(std::move(g));
  }
  return out;
}

}  // namespace smartvm::nodeld
