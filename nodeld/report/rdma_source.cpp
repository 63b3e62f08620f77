#include "rdma_source.hpp"

#include "parse_number.hpp"
#include "small_file.hpp"

#include <infiniband/verbs.h>

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

namespace smartvm::nodeld {

namespace {

std::string first_line(std::string s) {
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// "80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de": 4 bytes of flags and QPN,
// then the 16-byte GID, whose low 8 bytes are the port GUID.
bool guid_of_ipoib_address(const std::string& address, uint64_t& guid) {
  if (address.size() != 20 * 3 - 1) return false;
  guid = 0;
  for (size_t byte = 12; byte < 20; ++byte) {
    auto v = parse_integer<unsigned>(std::string_view(address).substr(byte * 3, 2), 16);
    if (!v) return false;
    guid = (guid << 8) | *v;
  }
  return true;
}

class VerbsDevices : public RdmaDevices {
 public:
  Result<std::vector<RdmaPort>> ports() override {
    std::vector<RdmaPort> out;
    int n = 0;
    errno = 0;
    ibv_device** list = ibv_get_device_list(&n);
    if (!list) {
      // ENOSYS: no RDMA subsystem in this kernel. No devices, nothing wrong.
      if (errno == ENOSYS || errno == 0) return out;
      return os_error("ibv_get_device_list");
    }
    Result<void> status;  // the first failure ends the scan
    for (int d = 0; d < n && status; ++d) {
      const char* name = ibv_get_device_name(list[d]);
      ibv_context* ctx = ibv_open_device(list[d]);
      if (!ctx) {
        status = os_error(std::string("cannot open RDMA device ") + name);
        break;
      }
      ibv_device_attr attr{};
      if (ibv_query_device(ctx, &attr) != 0) status = os_error(std::string("ibv_query_device ") + name);
      for (unsigned p = 1; status && p <= attr.phys_port_cnt; ++p) {
        ibv_port_attr pa{};
        if (ibv_query_port(ctx, uint8_t(p), &pa) != 0) {
          status = os_error(std::string("ibv_query_port ") + name + " port " + std::to_string(p));
          break;
        }
        RdmaPort port;
        port.device = name;
        port.port = p;
        // "PORT_ACTIVE" -> "ACTIVE", as ibstat and the report say it.
        port.state = ibv_port_state_str(pa.state);
        if (port.state.rfind("PORT_", 0) == 0) port.state.erase(0, 5);
        port.phys_state = ib_phys_state_name(pa.phys_state);
        port.rate_gbps = ib_rate_gbps(pa.active_width, pa.active_speed);
        port.mtu = pa.active_mtu >= IBV_MTU_256 && pa.active_mtu <= IBV_MTU_4096 ? 128u << pa.active_mtu : 0;  // 1 = 256 .. 5 = 4096
        port.link_layer = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand";
        ibv_gid gid{};
        if (ibv_query_gid(ctx, uint8_t(p), 0, &gid) == 0) port.port_guid = be64toh(gid.global.interface_id);
        out.push_back(std::move(port));
      }
      ibv_close_device(ctx);
    }
    ibv_free_device_list(list);
    if (!status) return status.error();
    return out;
  }
};

// Sorted entry names of a directory, without dot files; nullopt with errno when it cannot be
// listed.
std::optional<std::vector<std::string>> entries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return std::nullopt;
  std::vector<std::string> out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;  // port 10 after port 9
  });
  return out;
}

// "4: ACTIVE" -> "ACTIVE", as ibstat shows it.
std::string after_code(const std::string& line) {
  size_t colon = line.find(": ");
  return colon == std::string::npos ? line : line.substr(colon + 2);
}

// "fe80:0000:0000:0000:0002:c903:000a:bcde": the port GUID is the last 64 bits.
bool guid_of_gid(const std::string& gid, uint64_t& guid) {
  if (gid.size() != 39) return false;
  guid = 0;
  for (size_t group = 4; group < 8; ++group) {
    auto v = parse_integer<unsigned>(std::string_view(gid).substr(group * 5, 4), 16);
    if (!v) return false;
    guid = (guid << 16) | *v;
  }
  return true;
}

class HostDevices : public RdmaDevices {
 public:
  explicit HostDevices(std::string sysfs_root) : sysfs_root_(std::move(sysfs_root)) {}
  Result<std::vector<RdmaPort>> ports() override {
    auto ports = read_sysfs_ports(sysfs_root_);
    if (!ports || ports->empty()) return ports;
    // The active MTU only verbs knows; a device it cannot open keeps 0.
    if (auto verbs = VerbsDevices().ports())
      for (RdmaPort& p : *ports)
        for (const RdmaPort& v : *verbs)
          if (v.device == p.device && v.port == p.port) p.mtu = v.mtu;
    return ports;
  }

 private:
  std::string sysfs_root_;
};

}  // namespace

std::unique_ptr<RdmaDevices> make_verbs_devices() { return std::make_unique<VerbsDevices>(); }

std::unique_ptr<RdmaDevices> make_host_devices(const std::string& sysfs_root) { return std::make_unique<HostDevices>(sysfs_root); }

Result<std::vector<RdmaPort>> read_sysfs_ports(const std::string& sysfs_root) {
  std::vector<RdmaPort> out;
  std::string base = sysfs_root + "/class/infiniband";
  auto devices = entries(base);
  if (!devices) {
    if (errno == ENOENT) return out;  // no RDMA subsystem or no device
    return os_error("cannot list " + base);
  }
  for (const std::string& device : *devices) {
    std::string ports_dir = base + "/" + device + "/ports";
    auto numbers = entries(ports_dir);
    if (!numbers) return os_error("cannot list " + ports_dir);
    for (const std::string& number : *numbers) {
      std::string dir = ports_dir + "/" + number + "/";
      auto line = [&](const char* name) -> Result<std::string> {
        auto text = read_small_file(dir + name, 256);
        if (!text) return text.error();
        return first_line(*text);
      };
      RdmaPort p;
      p.device = device;
      auto port = parse_integer<unsigned>(number);
      if (!port) continue;
      p.port = *port;
      auto state = line("state");
      if (!state) return state.error();
      p.state = after_code(*state);
      auto phys = line("phys_state");
      if (!phys) return phys.error();
      p.phys_state = after_code(*phys);
      auto rate = line("rate");  // "100 Gb/sec (4X EDR)"
      if (!rate) return rate.error();
      std::from_chars(rate->data(), rate->data() + rate->size(), p.rate_gbps);
      // Older kernels have no link_layer file: InfiniBand then.
      auto layer = line("link_layer");
      p.link_layer = layer && !layer->empty() ? *layer : "InfiniBand";
      if (auto gid = line("gids/0"); gid) guid_of_gid(*gid, p.port_guid);
      out.push_back(std::move(p));
    }
  }
  return out;
}

double ib_rate_gbps(unsigned active_width, unsigned active_speed) {
  double lanes = 0;
  switch (active_width) {
    case 1: lanes = 1; break;
    case 2: lanes = 4; break;
    case 4: lanes = 8; break;
    case 8: lanes = 12; break;
    case 16: lanes = 2; break;
    default: return 0;
  }
  double per_lane = 0;  // Gb/s as the IB specification names the speeds
  switch (active_speed) {
    case 1: per_lane = 2.5; break;    // SDR
    case 2: per_lane = 5; break;      // DDR
    case 4: per_lane = 10; break;     // QDR
    case 8: per_lane = 10; break;     // FDR10
    case 16: per_lane = 14; break;    // FDR
    case 32: per_lane = 25; break;    // EDR
    case 64: per_lane = 50; break;    // HDR
    case 128: per_lane = 100; break;  // NDR
    default: return 0;
  }
  return lanes * per_lane;
}

const char* ib_phys_state_name(unsigned phys_state) {
  switch (phys_state) {
    case 1: return "Sleep";
    case 2: return "Polling";
    case 3: return "Disabled";
    case 4: return "PortConfigurationTraining";
    case 5: return "LinkUp";
    case 6: return "LinkErrorRecovery";
    case 7: return "PhyTest";
    default: return "NoStateChange";
  }
}

Result<std::vector<IpoibInterface>> scan_ipoib_interfaces(const std::string& sysfs_root) {
  std::vector<IpoibInterface> out;
  std::string net = sysfs_root + "/class/net";
  DIR* dir = opendir(net.c_str());
  if (!dir) return os_error("cannot list " + net);
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string base = net + "/" + name + "/";
    auto type = read_small_file(base + "type", 64);
    if (!type || first_line(*type) != "32") continue;
    IpoibInterface i;
    i.name = name;
    auto address = read_small_file(base + "address", 256);
    if (!address || !guid_of_ipoib_address(first_line(*address), i.port_guid)) continue;
    if (auto mode = read_small_file(base + "mode", 64)) i.mode = first_line(*mode);
    if (auto mtu = read_small_file(base + "mtu", 64)) {
      i.mtu = parse_integer<unsigned>(first_line(*mtu)).value_or(0);
    }
    out.push_back(std::move(i));
  }
  closedir(dir);
  std::sort(out.begin(), out.end(), [](const IpoibInterface& a, const IpoibInterface& b) { return a.name < b.name; });
  return out;
}

void tie_ipoib_interfaces(std::vector<RdmaPort>& ports, const std::vector<IpoibInterface>& interfaces) {
  for (RdmaPort& p : ports) {
    auto it = std::find_if(interfaces.begin(), interfaces.end(),
                           [&](const IpoibInterface& i) { return p.port_guid != 0 && i.port_guid == p.port_guid; });
    if (it == interfaces.end()) continue;
    p.ipoib_interface = it->name;
    p.ipoib_mode = it->mode;
    p.ipoib_mtu = it->mtu;
  }
}

Result<std::vector<RdmaPort>> RdmaSource::collect() {
  auto ports = devices_->ports();
  if (!ports) return ports.error();
  if (ports->empty()) return ports;
  auto interfaces = scan_ipoib_interfaces(sysfs_root_);
  if (!interfaces) return interfaces.error();
  tie_ipoib_interfaces(*ports, *interfaces);
  return ports;
}

}  // namespace smartvm::nodeld
