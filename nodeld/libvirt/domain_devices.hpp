// A guest's devices as its libvirt domain XML declares them: the network interfaces the guest
// router routes to and the disks the throttle limits. Parsed through xml_tree.hpp.
#pragma once

#include "error.hpp"
#include "libvirt_support.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

// A network interface: the host-side device (<target dev='vif1.0'/>) and the IPv4 addresses
// given to it (<ip address='10.10.0.5'/>; Xen's vif ip= becomes the same). The guest router
// routes these addresses to that device.
struct GuestInterface {
  std::string device;
  std::vector<std::string> addresses;
};

// Interfaces without a target device or without IPv4 addresses are left out.
Result<std::vector<GuestInterface>> guest_interfaces_from_xml(const std::string& domain_xml);

// A disk: the guest-side name libvirt's block calls take (<target dev='vda'/>) and the host file
// or device behind it (<source file=.../> or <source dev=.../>), which the cgroup throttle
// backend needs to find the host's disk.
struct GuestDisk {
  std::string target;  // vda, xvda
  std::string source;  // /var/lib/libvirt/images/job.qcow2, /dev/vg/job; "" for network disks
};

// Disks only (no CD-ROMs: the context ISO is read once and is not worth a limit).
Result<std::vector<GuestDisk>> guest_disks_from_xml(const std::string& domain_xml);

// smartvm-run's mark on a job domain: kJobMetadataNamespace (libvirt_support.hpp). The prefix
// is whatever the XML binds to the namespace.

struct JobMetadata {
  std::string service;
  std::string job_id;
  std::string owner;
  int64_t launcher_pid = 0;  // 0 when missing or not a number; for the log only
  // The job's directory, which its smartvm-run holds flock'ed while it lives; "" when missing
  // or not absolute (such a job is never taken for an orphan).
  std::string job_dir;
};

// What nodeld reads of a domain's XML, parsed once per run of the domain: its interfaces (for
// the guest router), its job mark (none for other domains) and the host files behind its disks
// and CD-ROMs (where a job's directory is found).
struct DomainXmlFacts {
  std::vector<GuestInterface> interfaces;
  std::optional<JobMetadata> job;
  std::vector<std::string> file_sources;
};

Result<DomainXmlFacts> domain_facts_from_xml(const std::string& domain_xml);

}  // namespace smartvm::nodeld
