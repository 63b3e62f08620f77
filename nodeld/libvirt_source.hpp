// The hypervisor through libvirt: node capacity (virNodeGetInfo, virNodeGetFreeMemory) and one
// virConnectGetAllDomainStats per cycle, with NOWAIT where the driver takes it. Lifecycle
// events arrive between cycles on libvirt's event thread and are handed to a callback. When
// libvirtd goes away the connection is reopened with backoff (1 s doubling to 60 s), and
// collect() says why there is no data instead of blocking.
#pragma once

#include "error.hpp"
#include "snapshot.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

struct _virConnect;

namespace smartvm::nodeld {

struct DomainEvent {
  std::string name;
  std::string uuid;
  std::string event;  // defined, undefined, started, suspended, resumed, stopped, shutdown, crashed, ...
  std::string state;  // the state the domain is in after it; "" for undefined
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
  // Whether the bulk call runs with VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT.
  bool nowait() const { return nowait_; }

 private:
  Result<void> ensure_open();
  void close();
  Result<HypervisorStats> collect_open();

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
