// The hypervisor in the report, through libvirt: node capacity (virNodeGetInfo,
// virNodeGetFreeMemory) and one virConnectGetAllDomainStats per cycle, with the guests'
// network interfaces from their domain XML (for the guest router). The connection is
// libvirt_connection.hpp's: when libvirtd is away, collect() says why there is no data instead
// of blocking.
#pragma once

#include "error.hpp"
#include "libvirt_connection.hpp"
#include "snapshot.hpp"

#include <map>
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
  explicit LibvirtSource(std::shared_ptr<LibvirtConnection> connection) : connection_(std::move(connection)) {}

  // One cycle. Called from one thread at a time (the source's worker).
  Result<HypervisorStats> collect();
  const std::string& uri() const { return connection_->uri(); }
  const std::shared_ptr<LibvirtConnection>& connection() const { return connection_; }

 private:
  Result<HypervisorStats> collect_open(const LibvirtConnection::Lock& held, _virConnect* conn);

  std::shared_ptr<LibvirtConnection> connection_;
  // Domain XML is read once per run of a domain: by "uuid/id" (the id changes at every start).
  struct XmlFacts {
    std::vector<GuestInterface> interfaces;
    std::optional<DomainJob> job;
  };
  std::map<std::string, XmlFacts> xml_facts_;
};

}  // namespace smartvm::nodeld
