#include "domain_interfaces.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace smartvm::nodeld {

namespace pt = boost::property_tree;

Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml) {
  pt::ptree tree;
  try {
    std::istringstream in(domain_xml);
    pt::read_xml(in, tree);
  } catch (const pt::xml_parser_error& e) {
    return make_error(std::string("domain XML: ") + e.message() + " at line " + std::to_string(e.line()));
  }
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
