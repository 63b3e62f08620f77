// The hypervisor in the report, through libvirt: node capacity (virNodeGetInfo,
// virNodeGetFreeMemory) and one virConnectGetAllDomainStats per cycle, with the guests'
// network interfaces from their domain XML (for the guest router). Per domain, a cycle asks
// libvirt nothing more unless the domain is new or may be another run (domain_runs.hpp), or
// the driver leaves out a group the report needs (virDomainGetInfo: the test driver). The connection is
// libvirt_connection.hpp's: when libvirtd is away, collect() says why there is no data instead
// of blocking.
#pragma once

#include "domain_runs.hpp"
#include "error.hpp"
#include "libvirt_connection.hpp"
#include "snapshot.hpp"

#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace smartvm::nodeld {

class LibvirtSource {
 public:
  using EventCallback = LibvirtConnection::EventCallback;

  // A connection of its own; `on_event` runs on libvirt's event thread.
  LibvirtSource(std::string uri, EventCallback on_event, LibvirtConnection::SayFn say = nullptr);
  // A connection shared with the throttle's libvirt backend.
  explicit LibvirtSource(std::shared_ptr<LibvirtConnection> connection)
      : connection_(std::move(connection)), marks_(connection_->watch_runs()) {}

  // One cycle. Called from one thread at a time (the source's worker).
  Result<HypervisorStats> collect();
  const std::string& uri() const { return connection_->uri(); }
  const std::shared_ptr<LibvirtConnection>& connection() const { return connection_; }

 private:
  Result<HypervisorStats> collect_open(const LibvirtConnection::Lock& held, _virConnect* conn);

  std::shared_ptr<LibvirtConnection> connection_;
  std::shared_ptr<DomainMarks> marks_;
  // Domain XML is read once per run of a domain (an active one: an inactive one has none).
  struct XmlFacts {
    std::vector<GuestInterface> interfaces;
    std::optional<DomainJob> job;
  };

 public:
  // For tests: how often identities were checked and facts read.
  const DomainRuns<XmlFacts>& runs() const { return runs_; }

 private:
  DomainRuns<XmlFacts> runs_;
};

}  // namespace smartvm::nodeld
