// The hypervisor through libvirt: node capacity (virNodeGetInfo, virNodeGetFreeMemory) and one
// virConnectGetAllDomainStats per cycle, with NOWAIT where the driver takes it. Lifecycle
// events arrive between cycles on libvirt's event thread and are handed to a callback. When
// libvirtd goes away the connection is reopened with backoff (1 s doubling to 60 s), and
// collect() says why there is no data instead of blocking.
#pragma once

#include "domain_disks.hpp"
#include "error.hpp"
#include "io_limits.hpp"
#include "snapshot.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

struct _virConnect;
struct _virDomain;

namespace smartvm::nodeld {

struct DomainEvent {
  std::string name;
  std::string uuid;
  std::string event;  // defined, undefined, started, suspended, resumed, stopped, shutdown, crashed, ...
  std::string state;  // the state the domain is in after it; "" for undefined
};

// A running guest's block I/O and what the throttle needs of it, once a second.
struct GuestBlockLoad {
  std::string name, uuid;
  int id = -1;
  std::vector<GuestDisk> disks;  // from the domain XML
  uint64_t counters[4] = {0, 0, 0, 0};  // read bytes, write bytes, read requests, write requests, all disks
  std::string policy_xml;               // its <throttle> metadata element, "" when it has none
  std::optional<IoLimits> recorded;     // the limits nodeld recorded on it (throttle_applied_namespace)
  bool first_sight = false;             // first time in this run of the domain (or of nodeld)
};

class LibvirtSource {
 public:
  using EventCallback = std::function<void(const DomainEvent&)>;

  // Starts libvirt's event loop thread once per process. `on_event` runs on that thread.
  LibvirtSource(std::string uri, EventCallback on_event);
  ~LibvirtSource();
  LibvirtSource(const LibvirtSource&) = delete;
  LibvirtSource& operator=(const LibvirtSource&) = delete;

  // One cycle. Called from one thread at a time (the source's worker).
  Result<HypervisorStats> collect();
  const std::string& uri() const { return uri_; }

  // For the throttle (its own worker thread; calls are serialized with collect()):
  // the running guests' block counters, disks and throttle metadata (XML and metadata are
  // read once per run of a domain, and again after a TUNABLE event on it).
  Result<std::vector<GuestBlockLoad>> block_load();
  // A disk's current block I/O tune.
  Result<IoLimits> block_tune(const std::string& uuid, const std::string& disk);
  // Sets the limits on every disk and records them in the domain's metadata (live only).
  Result<void> set_block_tune(const std::string& uuid, const std::vector<GuestDisk>& disks, const IoLimits& limits);
  // Records limits applied by another backend (cgroup) in the domain's metadata.
  Result<void> record_applied(const std::string& uuid, const IoLimits& limits);
  // Whether the connection is open and libvirtd alive: a failed call on a lost connection is
  // the connection's failure (logged once by the source), not the domain's.
  bool connected();
  // Whether the bulk call runs with VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.
  bool nowait() const { return nowait_; }

 private:
  Result<void> ensure_open();
  void close();
  Result<HypervisorStats> collect_open();
  Result<void> record_applied_open(_virDomain* dom, const IoLimits& limits);

  std::mutex mutex_;  // one libvirt conversation at a time: the collector's or the throttle's
  int tunable_id_ = -1;
  // Domains ("uuid/id") whose tune changed (TUNABLE events, libvirt's thread): read again.
  std::shared_ptr<std::mutex> tuned_mutex_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<std::string>> tuned_ = std::make_shared<std::set<std::string>>();
  std::map<std::string, GuestBlockLoad> block_cache_;  // by "uuid/id": disks, metadata

  std::string uri_;
  EventCallback on_event_;
  _virConnect* conn_ = nullptr;
  int callback_id_ = -1;
  bool nowait_ = true;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::seconds backoff_{0};
  std::string last_open_error_;
  // Domain XML is read once per run of a domain: by "uuid/id" (the id changes at every start).
  std::map<std::string, std::vector<GuestInterface>> interfaces_;
};

// libvirt's numeric state as the report's word.
const char* domain_state_name(int state);

}  // namespace smartvm::nodeld
