#include "domain_disks.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<std::vector<GuestDisk>> guest_disks_from_xml(const std::string& domain_xml) {
  pt::ptree tree;
  try {
    std::istringstream in(domain_xml);
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& e) {
    return make_error(std::string("domain XML: ") + e.message() + " at line " + std::to_string(e.line()));
  }
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
