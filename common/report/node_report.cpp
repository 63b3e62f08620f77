#include "node_report.hpp"

#include "utc_time.hpp"

#include <boost/json/parse.hpp>

namespace smartvm {
namespace json = boost::json;
namespace {

Error field_error(const std::string& path, const std::string& what) { return make_error(path + ": " + what); }

// The unsigned integer at `key` of `obj`; required or defaulted.
Result<uint64_t> get_uint(const json::object& obj, const std::string& path, const char* key, bool required,
                          uint64_t def = 0) {
  const json::value* v = obj.if_contains(key);
  if (!v) {
    if (required) return field_error(path + key, "missing");
    return def;
  }
  uint64_t n = 0;
  if (const auto* u = v->if_uint64()) n = *u;
  else if (const auto* i = v->if_int64(); i && *i >= 0) n = static_cast<uint64_t>(*i);
  else return field_error(path + key, "not a whole number >= 0");
  if (n > kMaxReportNumber) return field_error(path + key, std::to_string(n) + " is more than any node has (at most 2^53)");
  return n;
}

Result<std::string> get_string(const json::object& obj, const std::string& path, const char* key) {
  const json::value* v = obj.if_contains(key);
  if (!v) return field_error(path + key, "missing");
  if (!v->is_string()) return field_error(path + key, "not a string");
  return std::string(v->get_string());
}

bool holds_resources(const std::string& state) { return state != "shutoff" && state != "crashed"; }

// Sums that stop at the largest value instead of wrapping to "all free".
uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

uint64_t NodeReport::free_cores() const {
  if (hypervisor_stale || !fit_for_jobs) return 0;
  uint64_t held = 0;
  for (const auto& d : domains)
    if (holds_resources(d.state)) held = saturating_add(held, d.vcpus);
  return held >= capacity_cores ? 0 : capacity_cores - held;
}

uint64_t NodeReport::free_memory_kib() const {
  if (hypervisor_stale || !fit_for_jobs) return 0;
  uint64_t held = 0;
  for (const auto& d : domains)
    if (holds_resources(d.state)) held = saturating_add(held, d.memory_kib);
  return held >= capacity_memory_kib ? 0 : capacity_memory_kib - held;
}

Result<NodeReport> decode_report(std::string_view text) {
  if (text.size() > kMaxReportBytes) return make_error("the report is larger than " + std::to_string(kMaxReportBytes) + " bytes");
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return make_error("not JSON: " + ec.message());
  if (!v.is_object()) return make_error("the report is not a JSON object");
  const json::object& o = v.get_object();
  NodeReport r;

  auto schema = get_uint(o, "", "schema", true);
  if (!schema) return schema.error();
  if (*schema != 1) return field_error("schema", std::to_string(*schema) + " is not a schema this frontend reads (1)");
  auto node = get_string(o, "", "node");
  if (!node) return node.error();
  if (!valid_node_name(*node)) return field_error("node", "\"" + *node + "\" is not a node name ([A-Za-z0-9._-], 1 to 253)");
  r.node = *node;
  auto time = get_string(o, "", "time");
  if (!time) return time.error();
  if (!parse_utc(*time)) return field_error("time", "\"" + *time + "\" is not a UTC time like 2026-11-22T02:00:00Z");
  r.time = *time;
  auto seq = get_uint(o, "", "seq", true);
  if (!seq) return seq.error();
  r.seq = *seq;
  auto interval = get_uint(o, "", "interval_seconds", false, 10);
  if (!interval) return interval.error();
  if (*interval == 0 || *interval > 3600) return field_error("interval_seconds", "must be 1 to 3600");
  r.interval_seconds = *interval;

  const json::value* cap = o.if_contains("capacity");
  if (!cap || !cap->is_object()) return field_error("capacity", "missing or not an object");
  auto cores = get_uint(cap->get_object(), "capacity.", "cpu_cores", true);
  if (!cores) return cores.error();
  auto mem = get_uint(cap->get_object(), "capacity.", "memory_kib", true);
  if (!mem) return mem.error();
  r.capacity_cores = *cores;
  r.capacity_memory_kib = *mem;

  const json::value* doms = o.if_contains("domains");
  if (!doms || !doms->is_array()) return field_error("domains", "missing or not an array");
  size_t i = 0;
  for (const json::value& d : doms->get_array()) {
    std::string path = "domains[" + std::to_string(i++) + "].";
    if (!d.is_object()) return field_error(path.substr(0, path.size() - 1), "not an object");
    const json::object& dobj = d.get_object();
    DomainSummary s;
    auto name = get_string(dobj, path, "name");
    if (!name) return name.error();
    auto state = get_string(dobj, path, "state");
    if (!state) return state.error();
    auto vcpus = get_uint(dobj, path, "vcpus", true);
    if (!vcpus) return vcpus.error();
    auto dmem = get_uint(dobj, path, "memory_kib", true);
    if (!dmem) return dmem.error();
    s.name = *name;
    s.state = *state;
    s.vcpus = *vcpus;
    s.memory_kib = *dmem;
    r.domains.push_back(std::move(s));
  }
  if (const json::value* host = o.if_contains("host"); host && host->is_object())
    if (const json::value* boot = host->get_object().if_contains("boot_id"); boot && boot->is_string())
      r.boot_id = std::string(boot->get_string()).substr(0, 64);
  // Domains nodeld could not read this cycle: what the node has free is unknown.
  if (const json::value* stale = o.if_contains("stale"); stale && stale->is_object())
    r.hypervisor_stale = stale->get_object().contains("libvirt");
  // nodeld says so when guests cannot be routed or the repository does not answer.
  if (const json::value* fit = o.if_contains("fit_for_jobs"); fit && fit->is_bool()) r.fit_for_jobs = fit->get_bool();
  r.raw = std::move(v);
  return r;
}

}  // namespace smartvm
