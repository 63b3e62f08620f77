#include "libvirt_block_tune.hpp"

#include "domain_stats.hpp"
#include "throttle_policy.hpp"

#include <libvirt/libvirt.h>

#include <set>

namespace smartvm::nodeld {

namespace {

// A domain's metadata element in a namespace; "" when it has none.
std::string metadata_element(virDomainPtr dom, const char* ns) {
  char* xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ns, VIR_DOMAIN_AFFECT_LIVE);
  if (!xml) return "";
  std::string out = xml;
  free(xml);
  return out;
}

struct DomainRef {
  virDomainPtr dom = nullptr;
  ~DomainRef() {
    if (dom) virDomainFree(dom);
  }
};

}  // namespace

Result<std::vector<GuestBlockLoad>> LibvirtBlockTune::block_load() {
  auto held = connection_->lock();
  if (auto open = connection_->open(held); !open) return open.error();
  virDomainStatsRecordPtr* records = nullptr;
  int n = connection_->all_domain_stats(held, VIR_DOMAIN_STATS_BLOCK, VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING, &records);
  if (n < 0) {
    auto error = make_error(libvirt_error("virConnectGetAllDomainStats (block) on " + connection_->uri()));
    connection_->close_if_dead(held);
    return error;
  }
  // A new connection: everything is read afresh (tunes may have changed unseen meanwhile).
  if (connection_->generation(held) != cache_generation_) block_cache_.clear();
  cache_generation_ = connection_->generation(held);
  block_cache_.begin(connection_->generation(held), connection_->has_events(held), marks_->take());
  std::set<std::string> tuned = connection_->take_tuned();
  std::vector<GuestBlockLoad> out;
  out.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    DomainRecord d = decode_stats_record(*records[i]);
    virDomainPtr dom = records[i]->dom;
    bool fresh = false;
    auto read = [&](const DomainIdentity& identity) {
      fresh = true;
      GuestBlockLoad g;
      g.name = d.name;
      g.uuid = identity.uuid;
      g.id = identity.id;
      if (char* xml = virDomainGetXMLDesc(dom, 0)) {
        auto disks = guest_disks_from_xml(xml);
        free(xml);
        if (disks) g.disks = std::move(*disks);
        else g.disks_error = disks.error().message;
      }
      g.policy_xml = metadata_element(dom, throttle_policy_namespace);
      if (std::string recorded = metadata_element(dom, throttle_applied_namespace); !recorded.empty()) {
        if (auto r = parse_throttle_element(recorded)) {
          IoLimits l;
          for (size_t f = 0; f < 4; ++f) l.*IoLimits::fields[f] = r->limits[f].value_or(0);
          g.recorded = l;
        }
      }
      return g;
    };
    auto* run = &block_cache_.get(d.name, run_signs(d), [&] { return domain_identity(dom); }, read);
    // Its tune changed: the same run, read again.
    if (!fresh && tuned.count(d.name)) run->facts = read(run->identity);
    GuestBlockLoad g = run->facts;
    g.first_sight = fresh;
    for (const BlockStats& b : d.block) {
      g.counters[0] += b.rd_bytes;
      g.counters[1] += b.wr_bytes;
      g.counters[2] += b.rd_reqs;
      g.counters[3] += b.wr_reqs;
    }
    out.push_back(std::move(g));
  }
  virDomainStatsRecordListFree(records);
  block_cache_.end();
  return out;
}

Result<IoLimits> LibvirtBlockTune::block_tune(const std::string& uuid, const std::string& disk) {
  auto held = connection_->lock();
  auto conn = connection_->open(held);
  if (!conn) return conn.error();
  DomainRef d{virDomainLookupByUUIDString(*conn, uuid.c_str())};
  if (!d.dom) return make_error(libvirt_error("domain " + uuid));
  int n = 0;
  if (virDomainGetBlockIoTune(d.dom, disk.c_str(), nullptr, &n, VIR_DOMAIN_AFFECT_LIVE) < 0 || n <= 0)
    return make_error(libvirt_error("block I/O tune of " + disk));
  std::vector<virTypedParameter> params(static_cast<size_t>(n));
  if (virDomainGetBlockIoTune(d.dom, disk.c_str(), params.data(), &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
    return make_error(libvirt_error("block I/O tune of " + disk));
  IoLimits l;
  uint64_t total_bytes = 0, total_iops = 0;
  for (int i = 0; i < n; ++i) {
    std::string_view f = params[size_t(i)].field;
    uint64_t v = typed_param_u64(params[size_t(i)]);
    if (f == VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC) l.read_bytes_sec = v;
    else if (f == VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC) l.write_bytes_sec = v;
    else if (f == VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC) l.read_iops_sec = v;
    else if (f == VIR_DOMAIN_BLOCK_IOTUNE_WRITE_IOPS_SEC) l.write_iops_sec = v;
    else if (f == VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC) total_bytes = v;
    else if (f == VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC) total_iops = v;
  }
  virTypedParamsClear(params.data(), n);
  // A total limit (which nodeld never sets) counts against both directions.
  l.read_bytes_sec = tighter(l.read_bytes_sec, total_bytes);
  l.write_bytes_sec = tighter(l.write_bytes_sec, total_bytes);
  l.read_iops_sec = tighter(l.read_iops_sec, total_iops);
  l.write_iops_sec = tighter(l.write_iops_sec, total_iops);
  return l;
}

Result<void> LibvirtBlockTune::set_block_tune(const std::string& uuid, const std::vector<GuestDisk>& disks,
                                           const IoLimits& limits) {
  auto held = connection_->lock();
  auto conn = connection_->open(held);
  if (!conn) return conn.error();
  DomainRef d{virDomainLookupByUUIDString(*conn, uuid.c_str())};
  if (!d.dom) return make_error(libvirt_error("domain " + uuid));
  for (const GuestDisk& disk : disks) {
    virTypedParameterPtr params = nullptr;
    int n = 0, max = 0;
    auto add = [&](const char* field, uint64_t v) { virTypedParamsAddULLong(&params, &n, &max, field, v); };
    // Totals cleared (QEMU refuses them beside read/write limits); each *_max, the burst, as
    // high as the limit: no burst above it, and libvirt's test driver insists on it.
    add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_BYTES_SEC, 0);
    add(VIR_DOMAIN_BLOCK_IOTUNE_TOTAL_IOPS_SEC, 0);
    add(VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC, limits.read_bytes_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_READ_BYTES_SEC_MAX, limits.read_bytes_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC, limits.write_bytes_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_WRITE_BYTES_SEC_MAX, limits.write_bytes_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC, limits.read_iops_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_READ_IOPS_SEC_MAX, limits.read_iops_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_WRITE_IOPS_SEC, limits.write_iops_sec);
    add(VIR_DOMAIN_BLOCK_IOTUNE_WRITE_IOPS_SEC_MAX, limits.write_iops_sec);
    int rc = virDomainSetBlockIoTune(d.dom, disk.target.c_str(), params, n, VIR_DOMAIN_AFFECT_LIVE);
    virTypedParamsFree(params, n);
    if (rc < 0) return make_error(libvirt_error("setting block I/O limits on " + disk.target));
  }
  return record_applied_open(d.dom, limits);
}

Result<void> LibvirtBlockTune::record_applied(const std::string& uuid, const IoLimits& limits) {
  auto held = connection_->lock();
  auto conn = connection_->open(held);
  if (!conn) return conn.error();
  DomainRef d{virDomainLookupByUUIDString(*conn, uuid.c_str())};
  if (!d.dom) return make_error(libvirt_error("domain " + uuid));
  return record_applied_open(d.dom, limits);
}

Result<void> LibvirtBlockTune::record_applied_open(virDomainPtr dom, const IoLimits& limits) {
  std::string element = throttle_element("applied", limits);
  if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, element.c_str(), "smartvm", throttle_applied_namespace,
                           VIR_DOMAIN_AFFECT_LIVE) < 0)
    return make_error(libvirt_error("recording the applied limits in the domain's metadata"));
  // The cached run, if it is this one (the domain was looked up by uuid).
  if (const char* name = virDomainGetName(dom))
    if (auto* run = block_cache_.find(name); run && run->identity == domain_identity(dom)) run->facts.recorded = limits;
  return {};
}

}  // namespace smartvm::nodeld
