// The throttle's side of libvirt: the running guests' block I/O once a second with what the
// throttle needs of each (disks, policy metadata, the limits nodeld recorded), and libvirt's
// block I/O tune read and set. Calls are serialized with the report's on the shared
// connection (libvirt_connection.hpp).
#pragma once

#include "domain_devices.hpp"
#include "domain_runs.hpp"
#include "error.hpp"
#include "io_limits.hpp"
#include "libvirt_connection.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct _virDomain;

namespace smartvm::nodeld {

// A running guest's block I/O and what the throttle needs of it, once a second.
struct GuestBlockLoad {
  std::string name, uuid;
  int id = -1;
  std::vector<GuestDisk> disks;  // from the domain XML
  std::string disks_error;       // why there are none: the XML did not parse
  uint64_t counters[4] = {0, 0, 0, 0};  // read bytes, write bytes, read requests, write requests, all disks
  std::string policy_xml;               // its <throttle> metadata element, "" when it has none
  std::optional<IoLimits> recorded;     // the limits nodeld recorded on it (throttle_applied_namespace)
  bool first_sight = false;             // first time in this run of the domain (or of nodeld)
};

class LibvirtBlockTune {
 public:
  explicit LibvirtBlockTune(std::shared_ptr<LibvirtConnection> connection)
      : connection_(std::move(connection)), marks_(connection_->watch_runs()) {}

  // The running guests' block counters, disks and throttle metadata (XML and metadata are
  // read once per run of a domain, domain_runs.hpp, and again after a TUNABLE event on it).
  Result<std::vector<GuestBlockLoad>> block_load();
  // A disk's current block I/O tune.
  Result<IoLimits> block_tune(const std::string& uuid, const std::string& disk);
  // Sets the limits on every disk and records them in the domain's metadata (live only).
  Result<void> set_block_tune(const std::string& uuid, const std::vector<GuestDisk>& disks, const IoLimits& limits);
  // Records limits applied by another backend (cgroup) in the domain's metadata.
  Result<void> record_applied(const std::string& uuid, const IoLimits& limits);
  // Whether libvirtd answers: a failed call on a lost connection is the connection's failure
  // (the report's source says so), not the domain's.
  bool connected() { return connection_->connected(); }

 private:
  Result<void> record_applied_open(_virDomain* dom, const IoLimits& limits);

  std::shared_ptr<LibvirtConnection> connection_;
  std::shared_ptr<DomainMarks> marks_;
  DomainRuns<GuestBlockLoad> block_cache_;  // by name: disks, metadata (counters zero)
  uint64_t cache_generation_ = 0;           // the connection block_cache_ was read through
};

}  // namespace smartvm::nodeld
