#include "host_net.hpp"

#include "conntrack.hpp"
#include "guest_router.hpp"
#include "small_file.hpp"

#include <algorithm>

namespace smartvm::nodeld {

namespace {

// How an act reads in MemoryHostNet's and NullHostNet's records.
std::string sysctl_act(const std::string& path, const std::string& value) { return "sysctl " + path + "=" + value; }
std::string up_act(int index) { return "up dev " + std::to_string(index); }
std::string address_act(int index, uint32_t address, unsigned prefix) {
  return "add address " + ipv4_text(address) + "/" + std::to_string(prefix) + " dev " + std::to_string(index);
}
std::string add_route_act(uint32_t destination, int oif) {
  return "add route " + ipv4_text(destination) + "/32 dev " + std::to_string(oif);
}
std::string delete_route_act(const Route& r) {
  return "delete route " + ipv4_text(r.destination) + "/" + std::to_string(r.prefix) + " dev " + std::to_string(r.oif);
}
std::string forget_act(uint32_t address) { return "forget connections " + ipv4_text(address); }

}  // namespace

std::vector<Result<void>> HostNet::apply(const std::vector<NetChange>& changes) {
  struct One {
    HostNet& host;
    Result<void> operator()(const LinkUp& c) const { return host.set_up(c.index); }
    Result<void> operator()(const AddAddress& c) const { return host.add_address(c.index, c.address, c.prefix); }
    Result<void> operator()(const AddRoute& c) const { return host.add_route(c.destination, c.oif, c.source); }
    Result<void> operator()(const DeleteRoute& c) const { return host.delete_route(c.route); }
  };
  std::vector<Result<void>> results;
  results.reserve(changes.size());
  for (const NetChange& c : changes) results.push_back(std::visit(One{*this}, c));
  return results;
}

std::optional<std::string> SystemHostNet::sysctl(const std::string& path) {
  auto text = read_small_file(proc_sys_ + "/" + path, 64);
  if (!text) return std::nullopt;
  return text->substr(0, text->find('\n'));
}

std::string SystemHostNet::ipoib_mode(const std::string& name) { return read_ipoib_mode(sysfs_, name); }

Result<void> SystemHostNet::set_sysctl(const std::string& path, const std::string& value) {
  if (sysctl(path) == value) return {};
  return write_kernel_file(proc_sys_ + "/" + path, value);
}

Result<size_t> SystemHostNet::forget_connections(uint32_t address) { return nodeld::forget_connections(address); }

std::optional<std::string> MemoryHostNet::sysctl(const std::string& path) {
  auto it = sysctls.find(path);
  if (it == sysctls.end()) return std::nullopt;
  return it->second;
}

std::string MemoryHostNet::ipoib_mode(const std::string& name) {
  auto it = ipoib_modes.find(name);
  return it == ipoib_modes.end() ? "" : it->second;
}

Result<void> MemoryHostNet::set_sysctl(const std::string& path, const std::string& value) {
  acts.push_back(sysctl_act(path, value));
  sysctls[path] = value;
  return {};
}

Result<void> MemoryHostNet::set_up(int index) {
  acts.push_back(up_act(index));
  auto it = std::find_if(link_table.begin(), link_table.end(), [&](const Link& l) { return l.index == index; });
  if (it == link_table.end()) return make_error("link " + std::to_string(index) + ": no such device");
  it->up = true;
  return {};
}

Result<void> MemoryHostNet::add_address(int index, uint32_t address, unsigned prefix) {
  acts.push_back(address_act(index, address, prefix));
  address_table.push_back(Address{index, address, prefix});
  return {};
}

Result<void> MemoryHostNet::add_route(uint32_t destination, int oif, uint32_t source) {
  acts.push_back(add_route_act(destination, oif));
  // The kernel's key: destination and prefix in the main table (metric 0), whatever the protocol.
  if (std::any_of(route_table.begin(), route_table.end(),
                  [&](const Route& r) { return r.destination == destination && r.prefix == 32; }))
    return make_error("route " + ipv4_text(destination) + "/32: File exists");
  route_table.push_back(Route{destination, 32, oif, source, kRouteProtocol});
  return {};
}

Result<void> MemoryHostNet::delete_route(const Route& r) {
  acts.push_back(delete_route_act(r));
  auto it = std::find_if(route_table.begin(), route_table.end(), [&](const Route& x) {
    return x.destination == r.destination && x.prefix == r.prefix && x.oif == r.oif && x.protocol == r.protocol;
  });
  if (it == route_table.end()) return make_error("route " + ipv4_text(r.destination) + ": No such process");
  route_table.erase(it);
  return {};
}

Result<size_t> MemoryHostNet::forget_connections(uint32_t address) {
  acts.push_back(forget_act(address));
  return 0;
}

Result<void> NullHostNet::set_sysctl(const std::string& path, const std::string& value) {
  acts.push_back(sysctl_act(path, value));
  return {};
}

Result<void> NullHostNet::set_up(int index) {
  acts.push_back(up_act(index));
  return {};
}

Result<void> NullHostNet::add_address(int index, uint32_t address, unsigned prefix) {
  acts.push_back(address_act(index, address, prefix));
  return {};
}

Result<void> NullHostNet::add_route(uint32_t destination, int oif, uint32_t) {
  acts.push_back(add_route_act(destination, oif));
  return {};
}

Result<void> NullHostNet::delete_route(const Route& r) {
  acts.push_back(delete_route_act(r));
  return {};
}

Result<size_t> NullHostNet::forget_connections(uint32_t address) {
  acts.push_back(forget_act(address));
  return 0;
}

}  // namespace smartvm::nodeld
