// libvirt for one job: one connection to the node's libvirtd, the job's transient domain
// created from its XML (paused, so that the host is on the console and the status channel
// before the guest runs a single instruction), and the domain's lifecycle events, delivered by
// libvirt's event loop on a thread of its own (registered before the connection is opened, as
// libvirt requires). A JobDomain destroys its domain when its owner lets go of it, on every
// path out of smartvm-run, unless it was left to libvirt (a guest that powered itself off).
#pragma once

#include "error.hpp"

#include <functional>
#include <memory>
#include <string>

typedef struct _virConnect* virConnectPtr;
typedef struct _virDomain* virDomainPtr;

namespace smartvm::launcher {

// A lifecycle event as libvirt numbers it (VIR_DOMAIN_EVENT_*, and the event's detail).
struct LifecycleEvent {
  int event = 0;
  int detail = 0;
};

// Not libvirt's: the connection to libvirtd closed (it died, or stopped answering keepalives):
// no more events will come, and the domain can no longer be stopped from here.
inline constexpr int kConnectionClosed = -1;

// Whether the event means the guest is done (or nothing more can be learnt of it): powered off, rebooted (on_reboot is destroy),
// crashed, or the domain was destroyed. Pure.
bool ends_job(const LifecycleEvent& e);
// Whether the event says the guest powered itself off (SHUTDOWN, detail GUEST). Then libvirt's
// QEMU driver (qemuProcessHandleShutdown) has already sent qemu SIGTERM without waiting for it,
// and removes the transient domain itself once qemu's monitor closes (processMonitorEOFEvent):
// the domain goes without a destroy. Pure.
bool powered_itself_off(const LifecycleEvent& e);
// "guest shut down", "destroyed", ...: for the log line that says how the job ended.
std::string describe(const LifecycleEvent& e);

class JobDomain;

class LibvirtConnection {
 public:
  // Fails with libvirt's own words (and the URI) when libvirtd cannot be reached.
  static Result<LibvirtConnection> open(const std::string& uri);

  LibvirtConnection(LibvirtConnection&& o) noexcept;
  LibvirtConnection& operator=(LibvirtConnection&&) = delete;
  ~LibvirtConnection();

  const std::string& uri() const { return uri_; }
  // virDomainCreateXML with VIR_DOMAIN_START_PAUSED; resume() lets it run.
  Result<JobDomain> create_paused(const std::string& xml);

 private:
  LibvirtConnection(virConnectPtr conn, std::string uri) : conn_(conn), uri_(std::move(uri)) {}
  virConnectPtr conn_;
  std::string uri_;
};

class JobDomain {
 public:
  using EventHandler = std::function<void(LifecycleEvent)>;

  JobDomain(JobDomain&& o) noexcept;
  JobDomain& operator=(JobDomain&&) = delete;
  ~JobDomain();  // stops watching, destroys the domain if it still runs, frees it

  const std::string& name() const { return name_; }
  // `handler` is called on libvirt's event thread, for every lifecycle event of this domain,
  // until the JobDomain goes (or unwatch()); after unwatch() returns it is not called again.
  Result<void> watch(EventHandler handler);
  void unwatch();
  Result<void> resume();
  // Paused and let run again, for Slurm's suspend and resume (qemu is libvirtd's child, not
  // the job's: stopping smartvm-run would not stop the guest).
  Result<void> suspend();
  Result<void> resume_after_suspend();
  // Whether the connection is still up. libvirtd drops a client that answers no keepalives for
  // ~30 s, as a suspended Slurm job's smartvm-run (SIGSTOP, the freezer) cannot: reconnect()
  // opens a new connection to the same URI, finds the domain by its name and watches it again.
  bool connected() const;
  Result<void> reconnect();
  // An orderly shutdown: the guest sees the ACPI power button.
  Result<void> shutdown();
  // Gone now (qemu killed); a domain that is gone already is no error. libvirt's destroy waits
  // for qemu's death (it polls every 200 ms).
  Result<void> destroy();
  // Lets go of the domain without destroying it, for a guest that powered itself off (see
  // powered_itself_off): libvirt is already tearing it down.
  void leave_to_libvirt();
  // Whether the domain has ended (libvirt no longer knows it, or it is shut off): asked when a
  // sign of its end came by another way than its lifecycle event (its console closed).
  bool gone() const;

 private:
  friend class LibvirtConnection;
  JobDomain(virConnectPtr conn, virDomainPtr dom, std::string name, std::string uri);
  struct Watch;
  static void on_connection_closed(virConnectPtr, int reason, void* opaque);

  virConnectPtr conn_;
  virDomainPtr dom_;
  std::string name_, uri_;
  int callback_id_ = -1;
  bool close_callback_ = false;
  std::shared_ptr<Watch> watch_;
};

}  // namespace smartvm::launcher
