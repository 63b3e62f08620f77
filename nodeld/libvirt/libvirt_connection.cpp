#include "libvirt_connection.hpp"

#include "domain_stats.hpp"
#include "log.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace smartvm::nodeld {

namespace {

// libvirt prints every error to stderr by default; nodeld reports them itself, once.
void quiet(void*, virErrorPtr) {}

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

}  // namespace

struct LibvirtConnection::RunWatchers {
  std::mutex mutex;
  std::vector<std::weak_ptr<DomainMarks>> marks;
  void mark(const std::string& name) {
    std::lock_guard lock(mutex);
    std::erase_if(marks, [](const std::weak_ptr<DomainMarks>& m) { return m.expired(); });
    for (const auto& m : marks)
      if (auto live = m.lock()) live->mark(name);
  }
};

namespace {

// What the lifecycle callback holds: the daemon's callback and the readers' marks.
struct LifecycleTarget {
  LibvirtConnection::EventCallback callback;
  std::shared_ptr<LibvirtConnection::RunWatchers> watchers;
};

int on_lifecycle(virConnectPtr, virDomainPtr dom, int event, int, void* opaque) {
  auto* target = static_cast<LifecycleTarget*>(opaque);
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
  // Only these begin or end a run (a new id, a new uuid): a pause, a resume or a redefinition
  // of a running domain is the same run, whose facts (a job's start, for one) stay.
  if (event == VIR_DOMAIN_EVENT_STARTED || event == VIR_DOMAIN_EVENT_UNDEFINED) target->watchers->mark(ev.name);
  if (target->callback) target->callback(ev);
  return 0;
}

// A domain's tune changed (virsh blkdeviotune, or nodeld itself): the throttle reads it again.
void on_tunable(virConnectPtr, virDomainPtr dom, virTypedParameterPtr params, int nparams, void* opaque) {
  bool block = false;
  for (int i = 0; i < nparams; ++i) block = block || std::strncmp(params[i].field, "blkdeviotune.", 13) == 0;
  if (!block) return;
  if (const char* name = virDomainGetName(dom)) (*static_cast<std::shared_ptr<DomainMarks>*>(opaque))->mark(name);
}

void on_close(virConnectPtr, int reason, void* opaque) {
  static const char* reasons[] = {"an error", "end of file", "a keepalive timeout", "a client request"};
  const char* why = reason >= 0 && reason < 4 ? reasons[reason] : "an unknown reason";
  auto* self = static_cast<LibvirtConnection*>(opaque);
  self->say(log::Level::warning, "libvirt connection to " + self->uri() + " closed by " + why);
}

}  // namespace


LibvirtConnection::LibvirtConnection(std::string uri, EventCallback on_event, SayFn say)
    : uri_(std::move(uri)), on_event_(std::move(on_event)), say_(std::move(say)), watchers_(std::make_shared<RunWatchers>()) {
  // Without the loop there are no events and no keepalives; the connection still works.
  if (auto loop = start_libvirt_event_loop(); !loop && say_) say_(log::Level::error, loop.error().message);
}

LibvirtConnection::~LibvirtConnection() { close(); }

void LibvirtConnection::close() {
  if (!conn_) return;
  if (callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, callback_id_);
  if (tunable_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, tunable_id_);
  virConnectUnregisterCloseCallback(conn_, on_close);
  virConnectClose(conn_);
  conn_ = nullptr;
  callback_id_ = tunable_id_ = -1;
}

Result<virConnectPtr> LibvirtConnection::open(const Lock&) {
  if (conn_ && virConnectIsAlive(conn_) == 1) return conn_;
  if (conn_) {
    close();
    say(log::Level::warning, "libvirt connection to " + uri_ + " lost; reconnecting");
    next_attempt_ = {};  // try at once, then back off
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    auto wait = std::chrono::duration_cast<std::chrono::seconds>(next_attempt_ - now).count() + 1;
    return make_error(last_open_error_ + " (next attempt in " + std::to_string(wait) + " s)");
  }
  conn_ = virConnectOpen(uri_.c_str());
  if (!conn_) {
    std::string error = libvirt_error("cannot connect to " + uri_);
    // An outage is logged once, at its first failure. Its cause may change while it lasts
    // (a socket that refuses, then one that is gone): that is worth a debug line, not a warning.
    if (last_open_error_.empty())
      say(log::Level::warning, error);
    else if (error != last_open_error_)
      say(log::Level::debug, error);
    last_open_error_ = error;
    next_attempt_ = now + backoff_.failed();
    return make_error(error);
  }
  if (!last_open_error_.empty()) say(log::Level::notice, "libvirt connection to " + uri_ + " is back");
  last_open_error_.clear();
  backoff_.succeeded();
  ++generation_;
  virConnSetErrorFunc(conn_, nullptr, quiet);
  // Keepalives let a dead libvirtd be noticed between calls (not every driver has them).
  virConnectSetKeepAlive(conn_, 5, 3);
  // libvirt does not free a close callback's data on unregistering: it points at this object,
  // and close() unregisters before the connection (and this object) go.
  virConnectRegisterCloseCallback(conn_, on_close, this, nullptr);
  // The callback gets a copy of its own, which libvirt frees when it no longer calls it: an event
  // being delivered while this source closes the connection cannot reach a destroyed object.
  callback_id_ = virConnectDomainEventRegisterAny(
      conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
      new LifecycleTarget{on_event_, watchers_}, [](void* opaque) { delete static_cast<LifecycleTarget*>(opaque); });
  if (callback_id_ < 0) say(log::Level::warning, libvirt_error("libvirt lifecycle events on " + uri_ + " unavailable"));
  // Not every driver has TUNABLE events (the test driver has none): the throttle then relies
  // on what it read when it first saw a domain.
  tunable_id_ = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_TUNABLE,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_tunable), new std::shared_ptr<DomainMarks>(tuned_),
                                                 [](void* opaque) { delete static_cast<std::shared_ptr<DomainMarks>*>(opaque); });
  return conn_;
}

void LibvirtConnection::close_if_dead(const Lock&) {
  if (conn_ && virConnectIsAlive(conn_) != 1) close();
}

bool LibvirtConnection::connected() {
  std::lock_guard lock(mutex_);
  return conn_ && virConnectIsAlive(conn_) == 1;
}

std::shared_ptr<DomainMarks> LibvirtConnection::watch_runs() {
  auto marks = std::make_shared<DomainMarks>();
  std::lock_guard lock(watchers_->mutex);
  watchers_->marks.push_back(marks);
  return marks;
}

int LibvirtConnection::all_domain_stats(const Lock&, unsigned groups, unsigned flags, virDomainStatsRecordPtr** records) {
  int n = virConnectGetAllDomainStats(conn_, groups, records, flags | (nowait_ ? unsigned(VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT) : 0u));
  if (n < 0 && nowait_) {
    virErrorPtr e = virGetLastError();
    if (e && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_NO_SUPPORT)) {
      // An older driver: ask without NOWAIT from now on.
      say(log::Level::info, "libvirt driver of " + uri_ + " does not take NOWAIT for domain stats; asking without it");
      nowait_ = false;
      n = virConnectGetAllDomainStats(conn_, groups, records, flags);
    }
  }
  return n;
}

}  // namespace smartvm::nodeld
