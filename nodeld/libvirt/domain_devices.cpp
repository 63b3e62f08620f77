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

namespace {

std::vector<GuestInterface> interfaces_of(const pt::ptree& tree) {
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

std::optional<JobMetadata> job_of(const pt::ptree& tree) {
  auto metadata = tree.get_child_optional("domain.metadata");
  if (!metadata) return std::nullopt;
  for (const auto& [tag, element] : *metadata) {
    // The element's own xmlns:PREFIX binding names the namespace (libvirt writes it so).
    auto attributes = element.get_child_optional("<xmlattr>");
    if (!attributes) continue;
    for (const auto& [attr, value] : *attributes) {
      if (attr.rfind("xmlns:", 0) != 0 || value.data() != kJobMetadataNamespace) continue;
      std::string prefix = attr.substr(6) + ":";
      if (tag != prefix + "job") continue;
      JobMetadata job;
      job.service = element.get(prefix + "service", "");
      job.job_id = element.get(prefix + "job_id", "");
      job.owner = element.get(prefix + "owner", "");
      job.launcher_pid = element.get(prefix + "launcher_pid", int64_t(0));
      if (job.launcher_pid < 0) job.launcher_pid = 0;
      job.job_dir = element.get(prefix + "job_dir", "");
      if (job.job_dir.empty() || job.job_dir[0] != '/') job.job_dir.clear();
      return job;
    }
  }
  return std::nullopt;
}

std::vector<std::string> file_sources_of(const pt::ptree& tree) {
  std::vector<std::string> out;
  auto devices = tree.get_child_optional("domain.devices");
  if (!devices) return out;
  for (const auto& [tag, disk] : *devices)
    if (tag == "disk")
      if (std::string file = disk.get("source.<xmlattr>.file", ""); !file.empty()) out.push_back(std::move(file));
  return out;
}

}  // namespace

Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml) {
  auto parsed = parse_xml_tree(domain_xml, "domain XML");
  if (!parsed) return parsed.error();
  return interfaces_of(*parsed);
}

Result<DomainXmlFacts> domain_facts_from_xml(const std::string& domain_xml) {
  auto parsed = parse_xml_tree(domain_xml, "domain XML");
  if (!parsed) return parsed.error();
  DomainXmlFacts facts;
  facts.interfaces = interfaces_of(*parsed);
  facts.job = job_of(*parsed);
  facts.file_sources = file_sources_of(*parsed);
  return facts;
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
