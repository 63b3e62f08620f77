// One connection to libvirtd, shared by the monitoring source (report) and the throttle's
// libvirt backend: opened on demand and reopened with backoff (1 s doubling to 60 s) when
// libvirtd goes away, so that a call says why there is no answer instead of blocking.
// Lifecycle events arrive on libvirt's event thread and are handed to a callback; those that
// begin or end a run of a domain (started, undefined) mark it for the readers that watch
// (domain_runs.hpp); TUNABLE events mark the domains whose block I/O tune changed.
#pragma once

#include "backoff.hpp"
#include "domain_runs.hpp"
#include "error.hpp"
#include "libvirt_support.hpp"
#include "log.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

struct _virConnect;
struct _virDomainStatsRecord;

namespace smartvm::nodeld {

struct DomainEvent {
  std::string name;
  std::string uuid;
  std::string event;  // defined, undefined, started, suspended, resumed, stopped, shutdown, crashed, ...
  std::string state;  // the state the domain is in after it; "" for undefined
};

// virGetLastErrorMessage() after `what`.

class LibvirtConnection {
 public:
  using EventCallback = std::function<void(const DomainEvent&)>;
  using Lock = std::unique_lock<std::mutex>;
  // What the connection has to say (lost, back, a driver without NOWAIT): the daemon logs it,
  // the library never does. Called on whichever thread noticed (a worker, libvirt's event
  // thread); none: nothing is said.
  using SayFn = std::function<void(log::Level, const std::string&)>;

  // Starts libvirt's event loop thread once per process. `on_event` runs on that thread.
  LibvirtConnection(std::string uri, EventCallback on_event, SayFn say = nullptr);
  ~LibvirtConnection();
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  const std::string& uri() const { return uri_; }
  // Through the SayFn given, for the connection's users too (a domain whose XML is bad).
  void say(log::Level level, const std::string& message) const {
    if (say_) say_(level, message);
  }

  // One libvirt conversation at a time (the collector's or the throttle's): the lock is held
  // for a whole conversation and passed to the calls below.
  Lock lock() { return Lock(mutex_); }
  // The connection, opened (again) when it is not; while libvirtd is away an attempt is made
  // only when the backoff allows, and the error says when the next one is.
  Result<_virConnect*> open(const Lock& held);
  // After a failed call: a connection libvirtd dropped is closed now, so that the next call
  // reconnects instead of failing the same way.
  void close_if_dead(const Lock& held);
  // Whether the connection is open and libvirtd alive: a failed call on a lost connection is
  // the connection's failure, not the domain's.
  bool connected();
  // Counts the connections opened: whatever was read through an earlier one is to be read
  // afresh.
  uint64_t generation(const Lock&) const { return generation_; }
  // Whether lifecycle events arrive on this connection: without them, marks say nothing.
  bool has_events(const Lock&) const { return callback_id_ >= 0; }
  // Marks, for one reader, of the domains (by name) that libvirt said started or were
  // undefined from now on: another run of the domain, perhaps under the same name.
  std::shared_ptr<DomainMarks> watch_runs();
  // The domains (by name) whose block I/O tune changed since the last call.
  std::set<std::string> take_tuned() { return tuned_->take(); }
  // virConnectGetAllDomainStats with NOWAIT where the driver takes it (an older driver is
  // asked without it from then on); libvirt's return value, `records` as it fills them.
  int all_domain_stats(const Lock& held, unsigned groups, unsigned flags, _virDomainStatsRecord*** records);

  // The readers' marks (libvirt_connection.cpp), which the lifecycle callback holds too.
  struct RunWatchers;

 private:
  void close();

  std::mutex mutex_;
  std::string uri_;
  EventCallback on_event_;
  SayFn say_;
  _virConnect* conn_ = nullptr;
  int callback_id_ = -1;
  int tunable_id_ = -1;
  uint64_t generation_ = 0;
  bool nowait_ = true;
  std::chrono::steady_clock::time_point next_attempt_{};
  Backoff<std::chrono::seconds> backoff_{std::chrono::seconds(1), std::chrono::seconds(60)};
  std::string last_open_error_;
  // The readers' marks, shared with the lifecycle callback (libvirt's thread).
  std::shared_ptr<RunWatchers> watchers_;
  // Domains whose tune changed (TUNABLE events, libvirt's thread).
  std::shared_ptr<DomainMarks> tuned_ = std::make_shared<DomainMarks>();
};

}  // namespace smartvm::nodeld
