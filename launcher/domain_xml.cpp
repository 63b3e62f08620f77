#include "domain_xml.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <sstream>

namespace smartvm::launcher {
namespace pt = boost::property_tree;

namespace {

pt::ptree& add(pt::ptree& parent, const std::string& path, const std::string& value = {}) {
  return parent.add(path, value);
}

void attr(pt::ptree& node, const std::string& name, const std::string& value) { node.put("<xmlattr>." + name, value); }

pt::ptree& file_disk(pt::ptree& devices, const std::string& device, const std::string& format, const std::string& file,
                     const std::string& target, const std::string& bus) {
  pt::ptree& disk = add(devices, "disk");
  attr(disk, "type", "file");
  attr(disk, "device", device);
  pt::ptree& driver = add(disk, "driver");
  attr(driver, "name", "qemu");
  attr(driver, "type", format);
  attr(add(disk, "source"), "file", file);
  pt::ptree& t = add(disk, "target");
  attr(t, "dev", target);
  attr(t, "bus", bus);
  return disk;
}

void unix_socket(pt::ptree& node, const std::string& path) {
  attr(node, "type", "unix");
  pt::ptree& source = add(node, "source");
  attr(source, "mode", "bind");
  attr(source, "path", path);
}

}  // namespace

std::string domain_xml(const DomainPlan& p) {
  pt::ptree doc;
  pt::ptree& d = add(doc, "domain");
  attr(d, "type", p.domain_type);
  add(d, "name", p.name);

  pt::ptree& job = add(d, "metadata.smartvm:job");
  attr(job, "xmlns:smartvm", kJobMetadataNamespace);
  add(job, "smartvm:service", p.service);
  add(job, "smartvm:job_id", p.job_id);
  add(job, "smartvm:owner", p.owner);
  add(job, "smartvm:launcher_pid", std::to_string(p.launcher_pid));
  add(job, "smartvm:job_dir", p.job_dir);

  attr(add(d, "memory", std::to_string(p.memory_kib)), "unit", "KiB");
  pt::ptree& vcpu = add(d, "vcpu", std::to_string(p.vcpus));
  attr(vcpu, "placement", "static");
  if (!p.cpuset.empty()) attr(vcpu, "cpuset", p.cpuset);

  pt::ptree& os = add(d, "os");
  attr(add(os, "type", "hvm"), "arch", "x86_64");
  if (!p.kernel.empty()) {
    add(os, "kernel", p.kernel);
    if (!p.initrd.empty()) add(os, "initrd", p.initrd);
    if (!p.cmdline.empty()) add(os, "cmdline", p.cmdline);
  } else {
    attr(add(os, "boot"), "dev", "hd");
  }
  // Without ACPI a guest's poweroff only halts it and the domain never ends.
  add(d, "features.acpi");
  // A guest that reboots ends its domain: a job never runs twice.
  add(d, "on_poweroff", "destroy");
  add(d, "on_reboot", "destroy");
  add(d, "on_crash", "destroy");

  pt::ptree& devices = add(d, "devices");
  file_disk(devices, "disk", "qcow2", p.overlay, "vda", "virtio");
  add(file_disk(devices, "cdrom", "raw", p.context_iso, "hdc", "ide"), "readonly");
  if (p.network != "none") {
    pt::ptree& nic = add(devices, "interface");
    if (p.network == "route") {
      attr(nic, "type", "ethernet");
      attr(add(nic, "target"), "dev", p.tap_name);
    } else {
      attr(nic, "type", "network");
      attr(add(nic, "source"), "network", p.network);
    }
    attr(add(nic, "model"), "type", "virtio");
  }
  if (!p.share_dir.empty()) {
    // The guest's files keep the guest's owners (qemu runs as root under smartvm-run's libvirt).
    pt::ptree& fs = add(devices, "filesystem");
    attr(fs, "type", "mount");
    attr(fs, "accessmode", "passthrough");
    attr(add(fs, "source"), "dir", p.share_dir);
    attr(add(fs, "target"), "dir", p.share_tag);
  }
  pt::ptree& serial = add(devices, "serial");
  unix_socket(serial, p.console_socket);
  attr(add(serial, "target"), "port", "0");
  pt::ptree& channel = add(devices, "channel");
  unix_socket(channel, p.status_socket);
  pt::ptree& target = add(channel, "target");
  attr(target, "type", "virtio");
  attr(target, "name", kStatusPortName);

  std::ostringstream out;
  pt::write_xml(out, doc, pt::xml_writer_make_settings<std::string>(' ', 2));
  return out.str();
}

}  // namespace smartvm::launcher
