#include "domain_devices.hpp"

#include "xml_tree.hpp"

#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<pt::ptree> parse_xml_tree(const std::string& xml, const char* what) {
  pt::ptree tree;
  try {
    std::istringstream in(xml);
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& e) {
    return make_error(std::string(what) + ": " + e.message() + " at line " + std::to_string(e.line()));
  }
  return tree;
}

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
