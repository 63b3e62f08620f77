// What virConnectGetAllDomainStats says of one domain, decoded from its typed parameters: the
// monitoring source (report) and the throttle both read the same records.
#pragma once

#include "domain_runs.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct _virDomain;
struct _virDomainStatsRecord;
struct _virTypedParameter;

namespace smartvm::nodeld {

struct BlockStats {
  std::string name;  // vda
  uint64_t rd_bytes = 0, wr_bytes = 0, rd_reqs = 0, wr_reqs = 0;
};

struct NetStats {
  std::string name;  // vnet0
  uint64_t rx_bytes = 0, tx_bytes = 0, rx_pkts = 0, tx_pkts = 0;
};

// One domain's record, read in one pass over its fields. A group the driver left out stays
// empty (an inactive domain has no vcpu.current, for one). Its uuid is not here: asking libvirt
// for it costs a UUID formatting per domain (domain_runs.hpp), which the readers pay only for
// a domain that may be another run (domain_identity).
struct DomainRecord {
  std::string name;
  int state_code = 0;  // virDomainState
  std::string state = "nostate";
  std::optional<unsigned> vcpus;
  std::optional<uint64_t> memory_kib;
  std::optional<double> cpu_seconds;
  std::vector<BlockStats> block;  // disks that have a name, in libvirt's order
  std::vector<NetStats> net;
};

DomainRecord decode_stats_record(const _virDomainStatsRecord& rec);

// Whether a domain in this state has a run (a process, an id): neither shut off nor crashed.
bool active_state(int state);
RunSigns run_signs(const DomainRecord& r);

// Which run a domain is: its uuid and id (two calls to libvirt, each formatting the UUID).
DomainIdentity domain_identity(_virDomain* dom);

// A numeric typed parameter as an unsigned 64-bit value (negative ones and strings: 0).
uint64_t typed_param_u64(const _virTypedParameter& p);

// libvirt's numeric state as the report's word.
const char* domain_state_name(int state);

}  // namespace smartvm::nodeld
