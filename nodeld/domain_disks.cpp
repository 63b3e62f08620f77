#include "domain_disks.hpp"

#include "xml_tree.hpp"

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<std::vector<GuestDisk>> guest_disks_from_xml(const std::string& domain_xml) {
  auto parsed = parse_xml_tree(domain_xml, "domain XML");
  if (!parsed) return parsed.error();
  const pt::ptree& tree = *parsed;
  std::vector<GuestDisk> out;
  auto devices = tree.get_child_optional("domain.devices");
  if (!devices) return out;
  for (const auto& [tag, disk] : *devices) {
    if (tag != "disk" || disk.get("<xmlattr>.device", "disk") != "disk") continue;
    GuestDisk d;
    d.target = disk.get("target.<xmlattr>.dev", "");
    d.source = disk.get("source.<xmlattr>.file", disk.get("source.<xmlattr>.dev", ""));
    if (!d.target.empty()) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace smartvm::nodeld
