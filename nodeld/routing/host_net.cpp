#include "host_net.hpp"

#include "conntrack.hpp"
#include "guest_router.hpp"
#include "small_file.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include <linux/ip.h>

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
    // A setting by link index is netlink's way (SystemHostNet::set_sysctls); here it is by name.
    Result<void> operator()(const SetIpv4Conf& c) const { return make_error(describe(c) + ": only through netlink"); }
  };
  std::vector<Result<void>> results;
  results.reserve(changes.size());
  for (const NetChange& c : changes) results.push_back(std::visit(One{*this}, c));
  return results;
}

std::vector<Result<void>> HostNet::set_sysctls(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<Result<void>> results;
  results.reserve(settings.size());
  for (const auto& [path, value] : settings) results.push_back(set_sysctl(path, value));
  return results;
}

namespace {

// net/ipv4/conf/NAME/KEY of a link, KEY one netlink can set: (NAME, IPV4_DEVCONF_KEY).
std::optional<std::pair<std::string, int>> ipv4_conf_key(const std::string& path) {
  const std::string prefix = "net/ipv4/conf/";
  size_t slash = path.rfind('/');
  if (path.rfind(prefix, 0) != 0 || slash <= prefix.size()) return std::nullopt;
  std::string name = path.substr(prefix.size(), slash - prefix.size()), key = path.substr(slash + 1);
  if (name == "all" || name == "default" || name.find('/') != std::string::npos) return std::nullopt;
  if (key == "rp_filter") return std::make_pair(name, int(IPV4_DEVCONF_RP_FILTER));
  if (key == "proxy_arp") return std::make_pair(name, int(IPV4_DEVCONF_PROXY_ARP));
  return std::nullopt;
}

}  // namespace

std::vector<Result<void>> SystemHostNet::set_sysctls(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<Result<void>> results(settings.size());
  std::optional<std::vector<LinkIpv4Conf>> links;  // read once, when the first link setting comes
  std::unordered_map<std::string, const LinkIpv4Conf*> by_name;
  std::vector<NetChange> changes;
  std::vector<size_t> of;  // the setting each change makes
  for (size_t i = 0; i < settings.size(); ++i) {
    const auto& [path, value] = settings[i];
    auto key = ipv4_conf_key(path);
    uint32_t number = 0;
    bool numeric = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos && value.size() < 10;
    if (numeric) number = uint32_t(std::stoul(value));
    if (key && numeric && !links) {
      auto dump = nl_.ipv4_conf();
      links = dump ? std::move(*dump) : std::vector<LinkIpv4Conf>{};
      for (const LinkIpv4Conf& l : *links) by_name.emplace(l.name, &l);
    }
    const LinkIpv4Conf* link = nullptr;
    if (key && numeric)
      if (auto it = by_name.find(key->first); it != by_name.end() && it->second->values.size() >= size_t(key->second))
        link = it->second;
    if (!link) {  // not a link's setting netlink knows, or the link is not (yet) there: its file
      results[i] = set_sysctl(path, value);
      continue;
    }
    if (link->values[size_t(key->second) - 1] == number) continue;  // as wanted: nothing written
    changes.push_back(SetIpv4Conf{link->index, key->second, number});
    of.push_back(i);
  }
  std::vector<Result<void>> made = nl_.apply(changes);
  for (size_t j = 0; j < made.size(); ++j)
    if (!made[j]) results[of[j]] = Error{proc_sys_ + "/" + settings[of[j]].first + ": " + made[j].error().message, made[j].error().code};
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
