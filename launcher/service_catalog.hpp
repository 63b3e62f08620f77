// The services catalog: one file per service a provider offers on this node,
// /etc/smartvm/services.d/NAME.ini (the paper's "services configuration file"). Its [service]
// section says what the service runs on (golden image, cores, memory, wall time, network,
// direct-boot kernel); its [job], [env], [repository], [status] and [power] sections are the
// appliance.ini of every request, with %j (job id) and %u (requesting user) expanded in the
// values of [job] and [env] (%% for a literal %). Parsing is pure; load_service() adds the checks that need the host's files.
#pragma once

#include "diagnostic.hpp"
#include "error.hpp"
#include "ini_document.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smartvm::launcher {

struct Service {
  std::string name;  // the file's name without .ini
  std::string file;
  std::string description;
  std::string image;                 // the golden image: the read-only base of every overlay
  std::string image_format = "qcow2";  // qcow2 | raw
  unsigned cores = 1, max_cores = 1;
  uint64_t memory_bytes = 1ull << 30, max_memory_bytes = 1ull << 30;
  std::chrono::seconds wall_time{3600}, max_wall_time{3600};
  std::string network = "route";  // "route": a tap device nodeld routes; "none"; else a libvirt network
  // After the host's orderly shutdown (wall time, SIGTERM), the domain is destroyed this long
  // after if it is still there: the agent's kill_grace and its recording must fit in it.
  std::chrono::seconds stop_grace{60};
  std::string kernel, initrd, cmdline;  // direct boot; empty: the image boots by itself
  // A host directory the guest mounts over 9p (virtio, tag `share_tag`): a repository on the
  // node's own disk, for single-node sites and tests; "" = none (NFS over the network).
  std::string share, share_tag = "adr";
  std::vector<IniEntry> job_template;   // the appliance.ini sections, as written (with lines)
};

struct LoadedService {
  Service service;
  Diagnostics diagnostics;
  bool ok() const { return !has_errors(diagnostics); }
};

// Parses and validates a service file's text: the [service] keys, and the template through
// the agent's own parser (with %j and %u expanded to sample values). Nothing on the host is
// looked at. Every problem is a diagnostic naming `filename` and the line.
LoadedService parse_service(std::string_view text, const std::string& filename, const std::string& name);

// Reads CATALOG/NAME.ini, parses it, and checks what the host must have: the image, kernel and
// initrd exist and are readable files. A name that is not a plain file name is refused.
LoadedService load_service(const std::string& catalog, const std::string& name);
// The same for a service file anywhere (smartvm-run --appliance FILE).
LoadedService load_service_file(const std::string& path, const std::string& name);

// Every *.ini of the catalog, loaded; all their diagnostics (none: the catalog is fine).
Diagnostics check_catalog(const std::string& catalog);

// Whether `name` can name a service: letters, digits, '-', '_', '.', not starting with '.'.
bool valid_service_name(std::string_view name);

// The appliance.ini of one job: the template with %j and %u expanded in [job] and [env], and
// `extra_args` (each quoted for the agent's shell-word splitting) after the template's args.
std::string appliance_for(const Service& s, const std::string& job_id, const std::string& user,
                          const std::vector<std::string>& extra_args);

}  // namespace smartvm::launcher
