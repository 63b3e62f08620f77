#include "job_domain.hpp"

#include "libvirt_support.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace smartvm::launcher {
namespace {

Error libvirt_failure(const std::string& what) { return make_error(libvirt_error(what)); }

void quiet(void*, virErrorPtr) {}

// A connection with smartvm-run's settings: quiet, and keepalives, so that a libvirtd that dies
// while the job runs is noticed (the connection closes) within 15 s.
Result<virConnectPtr> open_connection(const std::string& uri) {
  if (auto r = start_libvirt_event_loop(); !r) return r.error();
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (!conn) return libvirt_failure("cannot connect to libvirt at " + uri);
  virConnSetErrorFunc(conn, nullptr, quiet);
  virConnectSetKeepAlive(conn, 5, 3);
  return conn;
}

}  // namespace

bool ends_job(const LifecycleEvent& e) {
  // SHUTDOWN (detail GUEST when the guest powered itself off, HOST after our shutdown request,
  // FINISHED from other drivers): the guest is off, qemu still there until libvirt destroys it,
  // as on_poweroff says. It comes ~200 ms before STOPPED: the end is seen that much sooner.
  return e.event == VIR_DOMAIN_EVENT_STOPPED || e.event == VIR_DOMAIN_EVENT_CRASHED ||
         e.event == VIR_DOMAIN_EVENT_SHUTDOWN || e.event == kConnectionClosed;
}

bool powered_itself_off(const LifecycleEvent& e) {
  return e.event == VIR_DOMAIN_EVENT_SHUTDOWN && e.detail == VIR_DOMAIN_EVENT_SHUTDOWN_GUEST;
}

std::string describe(const LifecycleEvent& e) {
  switch (e.event) {
    case kConnectionClosed: return "the connection to libvirt closed: the domain's end was not seen";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      // HOST: qemu was told to quit (a SIGTERM, as any destroy sends first), not the guest.
      return e.detail == VIR_DOMAIN_EVENT_SHUTDOWN_HOST ? "qemu was stopped from the host (the domain destroyed, or qemu signalled)"
                                                        : "the guest shut down";
    case VIR_DOMAIN_EVENT_CRASHED: return "the guest crashed";
    case VIR_DOMAIN_EVENT_STOPPED:
      switch (e.detail) {
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: return "the guest shut down";
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED: return "the domain was destroyed";
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED: return "qemu crashed";
        case VIR_DOMAIN_EVENT_STOPPED_FAILED: return "the domain failed";
        default: return "the domain stopped";
      }
    default: return "lifecycle event " + std::to_string(e.event) + "/" + std::to_string(e.detail);
  }
}

Result<LibvirtConnection> LibvirtConnection::open(const std::string& uri) {
  auto conn = open_connection(uri);
  if (!conn) return conn.error();
  return LibvirtConnection(*conn, uri);
}

LibvirtConnection::LibvirtConnection(LibvirtConnection&& o) noexcept
    : conn_(std::exchange(o.conn_, nullptr)), uri_(std::move(o.uri_)) {}

LibvirtConnection::~LibvirtConnection() {
  if (conn_) virConnectClose(conn_);
}

Result<JobDomain> LibvirtConnection::create_paused(const std::string& xml) {
  virDomainPtr dom = virDomainCreateXML(conn_, xml.c_str(), VIR_DOMAIN_START_PAUSED);
  if (!dom) return libvirt_failure("cannot create the domain on " + uri_);
  const char* name = virDomainGetName(dom);
  return JobDomain(conn_, dom, name ? name : "", uri_);
}

// What the event callback reaches: the handler, cleared under the lock by unwatch(), so that
// an event being delivered while the domain is let go of never reaches a dead handler.
struct JobDomain::Watch {
  std::mutex mutex;
  EventHandler handler;
};

JobDomain::JobDomain(virConnectPtr conn, virDomainPtr dom, std::string name, std::string uri)
    : conn_(conn), dom_(dom), name_(std::move(name)), uri_(std::move(uri)) {
  virConnectRef(conn_);
}

JobDomain::JobDomain(JobDomain&& o) noexcept
    : conn_(std::exchange(o.conn_, nullptr)),
      dom_(std::exchange(o.dom_, nullptr)),
      name_(std::move(o.name_)),
      uri_(std::move(o.uri_)),
      callback_id_(std::exchange(o.callback_id_, -1)),
      close_callback_(std::exchange(o.close_callback_, false)),
      watch_(std::move(o.watch_)) {}

JobDomain::~JobDomain() {
  if (!dom_) return;
  unwatch();
  (void)destroy();
  leave_to_libvirt();
}

void JobDomain::leave_to_libvirt() {
  if (!dom_) return;
  unwatch();
  virDomainFree(std::exchange(dom_, nullptr));
  virConnectClose(std::exchange(conn_, nullptr));
}

Result<void> JobDomain::watch(EventHandler handler) {
  unwatch();
  watch_ = std::make_shared<Watch>();
  watch_->handler = std::move(handler);
  auto on_event = [](virConnectPtr, virDomainPtr, int event, int detail, void* opaque) -> int {
    auto& w = **static_cast<std::shared_ptr<Watch>*>(opaque);
    std::lock_guard lock(w.mutex);
    if (w.handler) w.handler({event, detail});
    return 0;
  };
  // libvirt frees its copy of the pointer when it no longer calls the callback.
  callback_id_ = virConnectDomainEventRegisterAny(conn_, dom_, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                  VIR_DOMAIN_EVENT_CALLBACK(+on_event), new std::shared_ptr<Watch>(watch_),
                                                  [](void* p) { delete static_cast<std::shared_ptr<Watch>*>(p); });
  if (callback_id_ < 0) return libvirt_failure("cannot watch domain " + name_ + "'s lifecycle events");
  // A libvirtd that dies (or stops answering keepalives) sends no more events: said at once,
  // not found out at the wall time.
  if (virConnectRegisterCloseCallback(conn_, on_connection_closed, new std::shared_ptr<Watch>(watch_),
                                      [](void* p) { delete static_cast<std::shared_ptr<Watch>*>(p); }) == 0)
    close_callback_ = true;
  return {};
}

void JobDomain::on_connection_closed(virConnectPtr, int, void* opaque) {
  auto& w = **static_cast<std::shared_ptr<Watch>*>(opaque);
  std::lock_guard lock(w.mutex);
  if (w.handler) w.handler({kConnectionClosed, 0});
}

void JobDomain::unwatch() {
  if (watch_) {
    std::lock_guard lock(watch_->mutex);
    watch_->handler = nullptr;
  }
  if (callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, callback_id_);
  callback_id_ = -1;
  if (close_callback_) virConnectUnregisterCloseCallback(conn_, on_connection_closed);
  close_callback_ = false;
}

Result<void> JobDomain::resume() {
  if (virDomainResume(dom_) < 0) return libvirt_failure("cannot start domain " + name_);
  return {};
}

bool JobDomain::connected() const { return virConnectIsAlive(conn_) == 1; }

Result<void> JobDomain::reconnect() {
  auto conn = open_connection(uri_);
  if (!conn) return conn.error();
  virDomainPtr dom = virDomainLookupByName(*conn, name_.c_str());
  if (!dom) {
    Error e = libvirt_failure("cannot find domain " + name_ + " on " + uri_ + " again");
    virConnectClose(*conn);
    return e;
  }
  EventHandler handler;
  if (watch_) {
    std::lock_guard lock(watch_->mutex);
    handler = watch_->handler;
  }
  unwatch();
  virDomainFree(dom_);
  virConnectClose(conn_);
  conn_ = *conn;
  dom_ = dom;
  return handler ? watch(std::move(handler)) : Result<void>();
}

Result<void> JobDomain::suspend() {
  if (virDomainSuspend(dom_) < 0) return libvirt_failure("cannot suspend domain " + name_);
  return {};
}

Result<void> JobDomain::resume_after_suspend() {
  if (virDomainResume(dom_) < 0) return libvirt_failure("cannot resume domain " + name_);
  return {};
}

Result<void> JobDomain::shutdown() {
  if (virDomainShutdownFlags(dom_, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0)
    return libvirt_failure("cannot shut domain " + name_ + " down");
  return {};
}

bool JobDomain::gone() const {
  int state = 0, reason = 0;
  if (virDomainGetState(dom_, &state, &reason, 0) == 0) return state == VIR_DOMAIN_SHUTOFF;
  virErrorPtr e = virGetLastError();
  return e && e->code == VIR_ERR_NO_DOMAIN;
}

Result<void> JobDomain::destroy() {
  if (virDomainDestroy(dom_) == 0) return {};
  virErrorPtr e = virGetLastError();
  // Gone already, or no longer running (a transient domain is gone once it stops).
  if (e && (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_OPERATION_INVALID)) return {};
  return libvirt_failure("cannot destroy domain " + name_);
}

}  // namespace smartvm::launcher
