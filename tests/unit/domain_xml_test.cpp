// The job's domain XML, read back with an XML parser.
#include "domain_xml.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <catch2/catch.hpp>

#include <sstream>

using namespace smartvm::launcher;
namespace pt = boost::property_tree;

namespace {
DomainPlan plan() {
  DomainPlan p;
  p.name = "smartvm-42";
  p.vcpus = 2;
  p.cpuset = "2-3";
  p.memory_kib = 524288;
  p.kernel = "/var/lib/smartvm/vmlinux";
  p.initrd = "/var/lib/smartvm/initrd.gz";
  p.cmdline = "console=ttyS0 a=<b>&c";
  p.overlay = "/run/smartvm/jobs/42/disk.qcow2";
  p.context_iso = "/run/smartvm/jobs/42/context.iso";
  p.tap_name = "smv42";
  p.console_socket = "/run/smartvm/jobs/42/console.sock";
  p.status_socket = "/run/smartvm/jobs/42/status.sock";
  p.service = "blast";
  p.job_id = "42";
  p.owner = "alice & bob";
  p.launcher_pid = 1234;
  p.job_dir = "/run/smartvm/jobs/42";
  return p;
}

pt::ptree parsed(const std::string& xml) {
  pt::ptree t;
  std::istringstream in(xml);
  pt::read_xml(in, t);
  return t.get_child("domain");
}

// The devices of one kind, by an attribute's value.
const pt::ptree* device(const pt::ptree& d, const std::string& kind, const std::string& attr, const std::string& value) {
  for (const auto& [name, child] : d.get_child("devices"))
    if (name == kind && child.get("<xmlattr>." + attr, "") == value) return &child;
  return nullptr;
}
}  // namespace

TEST_CASE("the job's domain: resources, direct boot, one life, and its metadata", "[launcher][domain]") {
  std::string xml = domain_xml(plan());
  INFO(xml);
  pt::ptree d = parsed(xml);
  CHECK(d.get<std::string>("<xmlattr>.type") == "qemu");
  CHECK(d.get<std::string>("name") == "smartvm-42");
  CHECK(d.get<unsigned>("vcpu") == 2);
  CHECK(d.get<std::string>("vcpu.<xmlattr>.cpuset") == "2-3");
  CHECK(d.get<unsigned long>("memory") == 524288);
  CHECK(d.get<std::string>("memory.<xmlattr>.unit") == "KiB");
  CHECK(d.get<std::string>("os.kernel") == "/var/lib/smartvm/vmlinux");
  CHECK(d.get<std::string>("os.cmdline") == "console=ttyS0 a=<b>&c");  // escaped, and read back whole
  CHECK(d.count("features") == 1);
  CHECK(d.get_child("features").count("acpi") == 1);
  for (const char* when : {"on_poweroff", "on_reboot", "on_crash"}) CHECK(d.get<std::string>(when) == "destroy");
  const pt::ptree& job = d.get_child("metadata.smartvm:job");
  CHECK(job.get<std::string>("<xmlattr>.xmlns:smartvm") == smartvm::kJobMetadataNamespace);
  CHECK(job.get<std::string>("smartvm:service") == "blast");
  CHECK(job.get<std::string>("smartvm:job_id") == "42");
  CHECK(job.get<std::string>("smartvm:owner") == "alice & bob");
  CHECK(job.get<long>("smartvm:launcher_pid") == 1234);
  CHECK(job.get<std::string>("smartvm:job_dir") == "/run/smartvm/jobs/42");
}

TEST_CASE("the job's domain: overlay, context CD-ROM, network, console and status channel", "[launcher][domain]") {
  pt::ptree d = parsed(domain_xml(plan()));
  const pt::ptree* disk = device(d, "disk", "device", "disk");
  REQUIRE(disk);
  CHECK(disk->get<std::string>("source.<xmlattr>.file") == "/run/smartvm/jobs/42/disk.qcow2");
  CHECK(disk->get<std::string>("driver.<xmlattr>.type") == "qcow2");
  CHECK(disk->get<std::string>("target.<xmlattr>.bus") == "virtio");
  const pt::ptree* cdrom = device(d, "disk", "device", "cdrom");
  REQUIRE(cdrom);
  CHECK(cdrom->get<std::string>("source.<xmlattr>.file") == "/run/smartvm/jobs/42/context.iso");
  CHECK(cdrom->count("readonly") == 1);
  const pt::ptree* nic = device(d, "interface", "type", "ethernet");
  REQUIRE(nic);
  CHECK(nic->get<std::string>("target.<xmlattr>.dev") == "smv42");
  const pt::ptree* channel = device(d, "channel", "type", "unix");
  REQUIRE(channel);
  CHECK(channel->get<std::string>("source.<xmlattr>.path") == "/run/smartvm/jobs/42/status.sock");
  CHECK(channel->get<std::string>("target.<xmlattr>.name") == "org.smartvm.status.0");
  const pt::ptree* serial = device(d, "serial", "type", "unix");
  REQUIRE(serial);
  CHECK(serial->get<std::string>("source.<xmlattr>.path") == "/run/smartvm/jobs/42/console.sock");

  DomainPlan other = plan();
  other.network = "default";
  other.kernel.clear();
  pt::ptree o = parsed(domain_xml(other));
  const pt::ptree* net = device(o, "interface", "type", "network");
  REQUIRE(net);
  CHECK(net->get<std::string>("source.<xmlattr>.network") == "default");
  CHECK(o.get<std::string>("os.boot.<xmlattr>.dev") == "hd");
  CHECK(o.get_child("os").count("kernel") == 0);

  // network = none: a job that needs no network gets no NIC at all.
  DomainPlan isolated = plan();
  isolated.network = "none";
  CHECK(parsed(domain_xml(isolated)).get_child("devices").count("interface") == 0);
}

TEST_CASE("the job's domain: a host directory shared over 9p when the service has one", "[launcher][domain]") {
  CHECK(parsed(domain_xml(plan())).get_child("devices").count("filesystem") == 0);
  DomainPlan shared = plan();
  shared.share_dir = "/srv/adr & co";
  shared.share_tag = "adr";
  pt::ptree d = parsed(domain_xml(shared));
  const pt::ptree* fs = device(d, "filesystem", "type", "mount");
  REQUIRE(fs);
  CHECK(fs->get<std::string>("<xmlattr>.accessmode") == "passthrough");
  CHECK(fs->get<std::string>("source.<xmlattr>.dir") == "/srv/adr & co");
  CHECK(fs->get<std::string>("target.<xmlattr>.dir") == "adr");
}
