// The narrow seam between the guest router's decisions and the host: what it reads (links,
// addresses, routes, neighbours, sysctls, the IPoIB mode) and what it changes (sysctls, links
// up, addresses, routes, tracked connections). SystemHostNet is the host through netlink,
// /proc/sys and sysfs; MemoryHostNet an in-memory host for tests; NullHostNet reads the host and
// records what it would change without changing it.
#pragma once

#include "error.hpp"
#include "netlink.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace smartvm::nodeld {

class HostNet {
 public:
  virtual ~HostNet() = default;

  virtual Result<std::vector<Link>> links() = 0;
  virtual Result<std::vector<Address>> addresses() = 0;
  virtual Result<std::vector<Route>> routes() = 0;  // the main table
  virtual Result<std::vector<Neighbour>> neighbours() = 0;
  // A sysctl's value, first line ("net/ipv4/ip_forward"); none when it cannot be read.
  virtual std::optional<std::string> sysctl(const std::string& path) = 0;
  // "datagram" or "connected"; "" when the interface is not IPoIB.
  virtual std::string ipoib_mode(const std::string& name) = 0;

  // Each act says what failed, naming the file or the request.
  virtual Result<void> set_sysctl(const std::string& path, const std::string& value) = 0;
  // Each (path, value) as set_sysctl would set it, and whether it was.
  virtual std::vector<Result<void>> set_sysctls(const std::vector<std::pair<std::string, std::string>>& settings);
  virtual Result<void> set_up(int index) = 0;
  virtual Result<void> add_address(int index, uint32_t address, unsigned prefix) = 0;
  // DESTINATION/32 dev OIF src SOURCE, nodeld's protocol; a route with the same key already
  // there, whoever's, is an error.
  virtual Result<void> add_route(uint32_t destination, int oif, uint32_t source) = 0;
  virtual Result<void> delete_route(const Route& r) = 0;
  // Removes the tracked connections of an address; how many.
  virtual Result<size_t> forget_connections(uint32_t address) = 0;
  // The changes in their order, each as set_up, add_address, add_route or delete_route would
  // make it, and whether each was made: one that fails stops none of the others. The host
  // through netlink sends them together.
  virtual std::vector<Result<void>> apply(const std::vector<NetChange>& changes);
};

// The host: rtnetlink, /proc/sys under `proc_sys`, the IPoIB mode under `sysfs`, conntrack.
class SystemHostNet final : public HostNet {
 public:
  explicit SystemHostNet(Netlink nl, std::string proc_sys = "/proc/sys", std::string sysfs = "/sys")
      : nl_(std::move(nl)), proc_sys_(std::move(proc_sys)), sysfs_(std::move(sysfs)) {}
  void set_sysfs(std::string sysfs) { sysfs_ = std::move(sysfs); }

  Result<std::vector<Link>> links() override { return nl_.links(); }
  Result<std::vector<Address>> addresses() override { return nl_.addresses(); }
  Result<std::vector<Route>> routes() override { return nl_.routes(); }
  Result<std::vector<Neighbour>> neighbours() override { return nl_.neighbours(); }
  std::optional<std::string> sysctl(const std::string& path) override;
  std::string ipoib_mode(const std::string& name) override;
  // Written only when different: a reconcile that changes nothing writes nothing.
  Result<void> set_sysctl(const std::string& path, const std::string& value) override;
  // A link's rp_filter and proxy_arp (net/ipv4/conf/NAME/...) through netlink, read from one
  // dump of the links and written in one batch; the others as set_sysctl.
  std::vector<Result<void>> set_sysctls(const std::vector<std::pair<std::string, std::string>>& settings) override;
  Result<void> set_up(int index) override { return nl_.set_up(index); }
  Result<void> add_address(int index, uint32_t address, unsigned prefix) override {
    return nl_.add_address(index, address, prefix);
  }
  Result<void> add_route(uint32_t destination, int oif, uint32_t source) override {
    return nl_.add_route(destination, oif, source);
  }
  Result<void> delete_route(const Route& r) override { return nl_.delete_route(r); }
  Result<size_t> forget_connections(uint32_t address) override;
  std::vector<Result<void>> apply(const std::vector<NetChange>& changes) override { return nl_.apply(changes); }

 private:
  Netlink nl_;
  std::string proc_sys_;
  std::string sysfs_;
};

// A host in memory, for tests: the acts change its state as the kernel would (a second route
// with the same key is refused) and are recorded, one line each ("add route 10.10.0.5/32 dev 3").
class MemoryHostNet final : public HostNet {
 public:
  std::vector<Link> link_table;
  std::vector<Address> address_table;
  std::vector<Route> route_table;
  std::vector<Neighbour> neighbour_table;
  std::map<std::string, std::string> sysctls;
  std::map<std::string, std::string> ipoib_modes;
  std::vector<std::string> acts;

  Result<std::vector<Link>> links() override { return link_table; }
  Result<std::vector<Address>> addresses() override { return address_table; }
  Result<std::vector<Route>> routes() override { return route_table; }
  Result<std::vector<Neighbour>> neighbours() override { return neighbour_table; }
  std::optional<std::string> sysctl(const std::string& path) override;
  std::string ipoib_mode(const std::string& name) override;
  Result<void> set_sysctl(const std::string& path, const std::string& value) override;
  Result<void> set_up(int index) override;
  Result<void> add_address(int index, uint32_t address, unsigned prefix) override;
  Result<void> add_route(uint32_t destination, int oif, uint32_t source) override;
  Result<void> delete_route(const Route& r) override;
  Result<size_t> forget_connections(uint32_t address) override;
};

// Reads through `host`, changes nothing: each act is recorded as MemoryHostNet records it and
// succeeds. For a run that must not change the host (nodeld --once).
class NullHostNet final : public HostNet {
 public:
  explicit NullHostNet(HostNet& host) : host_(host) {}
  std::vector<std::string> acts;

  Result<std::vector<Link>> links() override { return host_.links(); }
  Result<std::vector<Address>> addresses() override { return host_.addresses(); }
  Result<std::vector<Route>> routes() override { return host_.routes(); }
  Result<std::vector<Neighbour>> neighbours() override { return host_.neighbours(); }
  std::optional<std::string> sysctl(const std::string& path) override { return host_.sysctl(path); }
  std::string ipoib_mode(const std::string& name) override { return host_.ipoib_mode(name); }
  Result<void> set_sysctl(const std::string& path, const std::string& value) override;
  Result<void> set_up(int index) override;
  Result<void> add_address(int index, uint32_t address, unsigned prefix) override;
  Result<void> add_route(uint32_t destination, int oif, uint32_t source) override;
  Result<void> delete_route(const Route& r) override;
  Result<size_t> forget_connections(uint32_t address) override;

 private:
  HostNet& host_;
};

}  // namespace smartvm::nodeld
