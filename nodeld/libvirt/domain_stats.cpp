#include "domain_stats.hpp"

#include "parse_number.hpp"

#include <libvirt/libvirt.h>

#include <cstring>
#include <map>

namespace smartvm::nodeld {

namespace {

// "block.3.rd.bytes" -> index 3, rest "rd.bytes".
bool indexed(const char* field, const char* group, size_t& index, const char*& rest) {
  size_t g = std::strlen(group);
  if (std::strncmp(field, group, g) != 0 || field[g] != '.') return false;
  const char* digits = field + g + 1;
  const char* dot = std::strchr(digits, '.');
  if (!dot) return false;
  auto i = parse_integer<size_t>(std::string_view(digits, size_t(dot - digits)));
  if (!i || *i > 4096) return false;
  index = *i;
  rest = dot + 1;
  return true;
}

}  // namespace

uint64_t typed_param_u64(const virTypedParameter& p) {
  switch (p.type) {
    case VIR_TYPED_PARAM_INT: return p.value.i < 0 ? 0 : uint64_t(p.value.i);
    case VIR_TYPED_PARAM_UINT: return p.value.ui;
    case VIR_TYPED_PARAM_LLONG: return p.value.l < 0 ? 0 : uint64_t(p.value.l);
    case VIR_TYPED_PARAM_ULLONG: return p.value.ul;
    default: return 0;
  }
}

DomainRecord decode_stats_record(const virDomainStatsRecord& rec) {
  DomainRecord d;
  // The name is the one cheap question: virDomainGetName formats no UUID for the debug log.
  if (const char* n = virDomainGetName(rec.dom)) d.name = n;
  std::map<size_t, BlockStats> block;
  std::map<size_t, NetStats> net;
  for (int i = 0; i < rec.nparams; ++i) {
    const virTypedParameter& p = rec.params[i];
    size_t index = 0;
    const char* rest = nullptr;
    if (std::strcmp(p.field, "state.state") == 0) {
      d.state_code = int(typed_param_u64(p));
      d.state = domain_state_name(d.state_code);
    } else if (std::strcmp(p.field, "cpu.time") == 0) {
      d.cpu_seconds = double(typed_param_u64(p)) / 1e9;
    } else if (std::strcmp(p.field, "balloon.current") == 0) {
      d.memory_kib = typed_param_u64(p);
    } else if (std::strcmp(p.field, "vcpu.current") == 0) {
      d.vcpus = unsigned(typed_param_u64(p));
    } else if (indexed(p.field, "block", index, rest)) {
      BlockStats& b = block[index];
      if (std::strcmp(rest, "name") == 0 && p.type == VIR_TYPED_PARAM_STRING) b.name = p.value.s;
      else if (std::strcmp(rest, "rd.bytes") == 0) b.rd_bytes = typed_param_u64(p);
      else if (std::strcmp(rest, "wr.bytes") == 0) b.wr_bytes = typed_param_u64(p);
      else if (std::strcmp(rest, "rd.reqs") == 0) b.rd_reqs = typed_param_u64(p);
      else if (std::strcmp(rest, "wr.reqs") == 0) b.wr_reqs = typed_param_u64(p);
    } else if (indexed(p.field, "net", index, rest)) {
      NetStats& n = net[index];
      if (std::strcmp(rest, "name") == 0 && p.type == VIR_TYPED_PARAM_STRING) n.name = p.value.s;
      else if (std::strcmp(rest, "rx.bytes") == 0) n.rx_bytes = typed_param_u64(p);
      else if (std::strcmp(rest, "tx.bytes") == 0) n.tx_bytes = typed_param_u64(p);
      else if (std::strcmp(rest, "rx.pkts") == 0) n.rx_pkts = typed_param_u64(p);
      else if (std::strcmp(rest, "tx.pkts") == 0) n.tx_pkts = typed_param_u64(p);
    }
  }
  for (auto& [i, b] : block)
    if (!b.name.empty()) d.block.push_back(std::move(b));
  for (auto& [i, n] : net)
    if (!n.name.empty()) d.net.push_back(std::move(n));
  return d;
}

bool active_state(int state) { return state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED; }

RunSigns run_signs(const DomainRecord& r) { return RunSigns{active_state(r.state_code), r.cpu_seconds}; }

DomainIdentity domain_identity(virDomainPtr dom) {
  DomainIdentity id;
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  if (virDomainGetUUIDString(dom, uuid) == 0) id.uuid = uuid;
  id.id = int(virDomainGetID(dom));
  return id;
}

const char* domain_state_name(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shutoff";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "nostate";
  }
}

}  // namespace smartvm::nodeld
