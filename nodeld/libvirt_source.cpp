#include "libvirt_source.hpp"

#include "log.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <thread>

namespace smartvm::nodeld {

namespace {

std::string last_error(const std::string& what) {
  const char* m = virGetLastErrorMessage();
  return what + ": " + (m ? m : "unknown libvirt error");
}

// libvirt prints every error to stderr by default; nodeld reports them itself, once.
void quiet(void*, virErrorPtr) {}

// libvirt's default event loop on a thread of its own, for lifecycle events and connection
// keepalives. Registered before the first connection is opened, as libvirt requires; stopped
// at exit through a timer that wakes the loop.
class EventLoop {
 public:
  static void ensure_started() { static EventLoop loop; }

 private:
  EventLoop() {
    virSetErrorFunc(nullptr, quiet);
    if (virEventRegisterDefaultImpl() < 0) {
      log::error(last_error("libvirt event loop"));
      return;
    }
    wake_ = virEventAddTimeout(-1, [](int, void*) {}, nullptr, nullptr);
    thread_ = std::thread([this] {
      while (!stop_) virEventRunDefaultImpl();
    });
  }
  ~EventLoop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    virEventUpdateTimeout(wake_, 0);
    thread_.join();
  }

  std::atomic<bool> stop_{false};
  int wake_ = -1;
  std::thread thread_;
};

struct LifecycleWord {
  const char* event;
  const char* state;
};

LifecycleWord lifecycle_word(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return {"defined", ""};  // state unchanged (or shutoff if new)
    case VIR_DOMAIN_EVENT_UNDEFINED: return {"undefined", ""};
    case VIR_DOMAIN_EVENT_STARTED: return {"started", "running"};
    case VIR_DOMAIN_EVENT_SUSPENDED: return {"suspended", "paused"};
    case VIR_DOMAIN_EVENT_RESUMED: return {"resumed", "running"};
    case VIR_DOMAIN_EVENT_STOPPED: return {"stopped", "shutoff"};
    case VIR_DOMAIN_EVENT_SHUTDOWN: return {"shutdown", "shutdown"};
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return {"pmsuspended", "pmsuspended"};
    case VIR_DOMAIN_EVENT_CRASHED: return {"crashed", "crashed"};
    default: return {"unknown", ""};
  }
}

int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int, void* opaque) {
  auto* cb = static_cast<LibvirtSource::EventCallback*>(opaque);
  DomainEvent ev;
  if (const char* n = virDomainGetName(dom)) ev.name = n;
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  if (virDomainGetUUIDString(dom, uuid) == 0) ev.uuid = uuid;
  LifecycleWord w = lifecycle_word(event);
  ev.event = w.event;
  ev.state = w.state;
  if (event == VIR_DOMAIN_EVENT_DEFINED) {
    int state = 0, reason = 0;
    if (virDomainGetState(dom, &state, &reason, 0) == 0) ev.state = domain_state_name(state);
  }
  (*cb)(ev);
  return 0;
}

void on_close(virConnectPtr, int reason, void* opaque) {
  static const char* reasons[] = {"an error", "end of file", "a keepalive timeout", "a client request"};
  const char* why = reason >= 0 && reason < 4 ? reasons[reason] : "an unknown reason";
  log::warning("libvirt connection to " + *static_cast<std::string*>(opaque) + " closed by " + why);
}

// "block.3.rd.bytes" -> index 3, rest "rd.bytes".
bool indexed(const char* field, const char* group, size_t& index, const char*& rest) {
  size_t g = std::strlen(group);
  if (std::strncmp(field, group, g) != 0 || field[g] != '.') return false;
  char* end = nullptr;
  unsigned long i = std::strtoul(field + g + 1, &end, 10);
  if (end == field + g + 1 || *end != '.' || i > 4096) return false;
  index = i;
  rest = end + 1;
  return true;
}

uint64_t as_u64(const virTypedParameter& p) {
  switch (p.type) {
    case VIR_TYPED_PARAM_INT: return p.value.i < 0 ? 0 : uint64_t(p.value.i);
    case VIR_TYPED_PARAM_UINT: return p.value.ui;
    case VIR_TYPED_PARAM_LLONG: return p.value.l < 0 ? 0 : uint64_t(p.value.l);
    case VIR_TYPED_PARAM_ULLONG: return p.value.ul;
    default: return 0;
  }
}

// One domain's record of the bulk call, read in one pass over its fields.
DomainStats decode_record(const virDomainStatsRecord& rec, bool& has_vcpus, bool& has_memory) {
  DomainStats d;
  if (const char* n = virDomainGetName(rec.dom)) d.name = n;
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  if (virDomainGetUUIDString(rec.dom, uuid) == 0) d.uuid = uuid;
  d.state = "nostate";
  has_vcpus = has_memory = false;
  std::map<size_t, BlockStats> block;
  std::map<size_t, NetStats> net;
  for (int i = 0; i < rec.nparams; ++i) {
    const virTypedParameter& p = rec.params[i];
    size_t index = 0;
    const char* rest = nullptr;
    if (std::strcmp(p.field, "state.state") == 0) {
      d.state = domain_state_name(int(as_u64(p)));
    } else if (std::strcmp(p.field, "cpu.time") == 0) {
      d.cpu_seconds = double(as_u64(p)) / 1e9;
    } else if (std::strcmp(p.field, "balloon.current") == 0) {
      d.memory_kib = as_u64(p);
      has_memory = true;
    } else if (std::strcmp(p.field, "vcpu.current") == 0) {
      d.vcpus = unsigned(as_u64(p));
      has_vcpus = true;
    } else if (indexed(p.field, "block", index, rest)) {
      BlockStats& b = block[index];
      if (std::strcmp(rest, "name") == 0 && p.type == VIR_TYPED_PARAM_STRING) b.name = p.value.s;
      else if (std::strcmp(rest, "rd.bytes") == 0) b.rd_bytes = as_u64(p);
      else if (std::strcmp(rest, "wr.bytes") == 0) b.wr_bytes = as_u64(p);
      else if (std::strcmp(rest, "rd.reqs") == 0) b.rd_reqs = as_u64(p);
      else if (std::strcmp(rest, "wr.reqs") == 0) b.wr_reqs = as_u64(p);
    } else if (indexed(p.field, "net", index, rest)) {
      NetStats& n = net[index];
      if (std::strcmp(rest, "name") == 0 && p.type == VIR_TYPED_PARAM_STRING) n.name = p.value.s;
      else if (std::strcmp(rest, "rx.bytes") == 0) n.rx_bytes = as_u64(p);
      else if (std::strcmp(rest, "tx.bytes") == 0) n.tx_bytes = as_u64(p);
      else if (std::strcmp(rest, "rx.pkts") == 0) n.rx_pkts = as_u64(p);
      else if (std::strcmp(rest, "tx.pkts") == 0) n.tx_pkts = as_u64(p);
    }
  }
  for (auto& [i, b] : block)
    if (!b.name.empty()) d.block.push_back(std::move(b));
  for (auto& [i, n] : net)
    if (!n.name.empty()) d.net.push_back(std::move(n));
  return d;
}

}  // namespace

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

LibvirtSource::LibvirtSource(std::string uri, EventCallback on_event)
    : uri_(std::move(uri)), on_event_(std::move(on_event)) {
  EventLoop::ensure_started();
}

LibvirtSource::~LibvirtSource() { close(); }

void LibvirtSource::close() {
  if (!conn_) return;
  if (callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, callback_id_);
  virConnectUnregisterCloseCallback(conn_, on_close);
  virConnectClose(conn_);
  conn_ = nullptr;
  callback_id_ = -1;
}

Result<void> LibvirtSource::ensure_open() {
  if (conn_ && virConnectIsAlive(conn_) == 1) return {};
  if (conn_) {
    close();
    log::warning("libvirt connection to " + uri_ + " lost; reconnecting");
    next_attempt_ = {};  // try at once, then back off
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(next_attempt_ - now).count() + 1;
    return make_error(last_open_error_ + " (next attempt in " + std::to_string(wait) + " s)");
  }
  conn_ = virConnectOpen(uri_.c_str());
  if (!conn_) {
    std::string error = last_error("cannot connect to " + uri_);
    // The first failure is logged; repeats of the same one are not, until it changes.
    if (error != last_open_error_) log::warning(error);
    last_open_error_ = error;
    backoff_ = std::min<std::chrono::seconds>(backoff_.count() ? backoff_ * 2 : std::chrono::seconds(1),
                                              std::chrono::seconds(60));
    next_attempt_ = now + backoff_;
    return make_error(error);
  }
  if (!last_open_error_.empty()) log::notice("libvirt connection to " + uri_ + " is back");
  last_open_error_.clear();
  backoff_ = std::chrono::seconds(0);
  virConnSetErrorFunc(conn_, nullptr, quiet);
  // Keepalives let a dead libvirtd be noticed between calls (not every driver has them).
  virConnectSetKeepAlive(conn_, 5, 3);
  // libvirt does not free a close callback's data on unregistering: it points at uri_, and
  // close() unregisters before the connection (and this object) go.
  virConnectRegisterCloseCallback(conn_, on_close, &uri_, nullptr);
  // The callback gets a copy of its own, which libvirt frees when it no longer calls it: an event
  // being delivered while this source closes the connection cannot reach a destroyed object.
  callback_id_ = virConnectDomainEventRegisterAny(
      conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), new EventCallback(on_event_),
      [](void* opaque) { delete static_cast<EventCallback*>(opaque); });
  if (callback_id_ < 0) log::warning(last_error("libvirt lifecycle events on " + uri_ + " unavailable"));
  return {};
}

Result<HypervisorStats> LibvirtSource::collect() {
  if (auto open = ensure_open(); !open) return open.error();
  auto stats = collect_open();
  // A call that failed because libvirtd went away: drop the connection now, so that the next
  // cycle reconnects instead of failing the same way.
  if (!stats && virConnectIsAlive(conn_) != 1) close();
  return stats;
}

Result<HypervisorStats> LibvirtSource::collect_open() {
  HypervisorStats h;
  virNodeInfo info{};
  if (virNodeGetInfo(conn_, &info) < 0) return make_error(last_error("virNodeGetInfo on " + uri_));
  h.cpu_cores = info.cpus;
  h.memory_kib = info.memory;
  if (unsigned long long free_bytes = virNodeGetFreeMemory(conn_); free_bytes > 0) h.free_memory_kib = free_bytes / 1024;

  const unsigned groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                          VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
  virDomainStatsRecordPtr* records = nullptr;
  int n = virConnectGetAllDomainStats(conn_, groups, &records, nowait_ ? unsigned(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT) : 0u);
  if (n < 0 && nowait_) {
    virErrorPtr e = virGetLastError();
    if (e && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_NO_SUPPORT)) {
      // An older driver: ask without NOWAIT from now on.
      log::info("libvirt driver of " + uri_ + " does not take NOWAIT for domain stats; asking without it");
      nowait_ = false;
      n = virConnectGetAllDomainStats(conn_, groups, &records, 0);
    }
  }
  if (n < 0) return make_error(last_error("virConnectGetAllDomainStats on " + uri_));
  h.domains.reserve(size_t(n));
  std::set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    bool has_vcpus = false, has_memory = false;
    DomainStats d = decode_record(*records[i], has_vcpus, has_memory);
    if (!has_vcpus || !has_memory || !d.cpu_seconds) {
      // Inactive domains, and drivers without those groups: the configured size from
      // virDomainGetInfo (no I/O on the host; one round trip to libvirtd).
      virDomainInfo di{};
      if (virDomainGetInfo(records[i]->dom, &di) == 0) {
        if (!has_vcpus) d.vcpus = di.nrVirtCpu;
        if (!has_memory) d.memory_kib = di.memory;
        if (!d.cpu_seconds && d.state != "shutoff") d.cpu_seconds = double(di.cpuTime) / 1e9;
      }
    }
    if (d.state != "shutoff" && d.state != "crashed") {
      std::string key = d.uuid + "/" + std::to_string(virDomainGetID(records[i]->dom));
      auto cached = interfaces_.find(key);
      if (cached == interfaces_.end()) {
        std::vector<GuestInterface> found;
        if (char* xml = virDomainGetXMLDesc(records[i]->dom, 0)) {
          auto parsed = guest_interfaces_from_xml(xml);
          free(xml);
          if (parsed) found = std::move(*parsed);
          else log::warning("domain " + d.name + ": " + parsed.error().message);
        }
        cached = interfaces_.emplace(key, std::move(found)).first;
      }
      d.interfaces = cached->second;
      seen.insert(key);
    }
    h.domains.push_back(std::move(d));
  }
  virDomainStatsRecordListFree(records);
  std::erase_if(interfaces_, [&](const auto& entry) { return !seen.count(entry.first); });
  std::sort(h.domains.begin(), h.domains.end(), [](const DomainStats& a, const DomainStats& b) { return a.name < b.name; });
  return h;
}

}  // namespace smartvm::nodeld
