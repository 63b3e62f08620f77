// The transient libvirt domain of one job, as XML: the overlay as its disk, the context ISO
// as a CD-ROM, the vCPUs and memory asked for, the guest's network, the console and the
// status channel as Unix sockets in the job's directory, and metadata that lets nodeld know
// the domain as a job (service, job id, owner, the launcher's pid). Pure: built from a
// description, tested without libvirt; written through Boost.PropertyTree, which escapes.
#pragma once

#include "libvirt_support.hpp"

#include <cstdint>
#include <string>

namespace smartvm::launcher {

// The virtio-serial port the agent writes its status record to.
inline constexpr const char* kStatusPortName = "org.smartvm.status.0";

struct DomainPlan {
  std::string name;  // unique on the node: smartvm-SERVICE-JOBID
  std::string domain_type = "qemu";  // qemu (TCG) or kvm
  unsigned vcpus = 1;
  std::string cpuset;  // "" = anywhere; else the host CPUs the vCPUs may use ("2-3,6")
  uint64_t memory_kib = 1 << 20;
  std::string kernel, initrd, cmdline;  // direct boot when kernel is set
  std::string overlay;                  // qcow2 on the golden image
  std::string context_iso;
  std::string network = "route";  // route: an ethernet (tap) device named `tap_name`; none: no NIC; else a libvirt network
  std::string tap_name;
  std::string console_socket, status_socket;
  std::string share_dir, share_tag;  // a host directory over 9p (virtio), or none
  // Metadata.
  std::string service, job_id, owner;
  long launcher_pid = 0;
  std::string job_dir;  // the job's directory, which smartvm-run holds locked while it lives
};

std::string domain_xml(const DomainPlan& plan);

}  // namespace smartvm::launcher
