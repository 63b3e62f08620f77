#include "nodeld_config.hpp"

#include "config_reader.hpp"
#include "http_server.hpp"
#include "node_report.hpp"
#include "parse_number.hpp"
#include "small_file.hpp"
#include "split_words.hpp"
#include "token_file.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/url/parse.hpp>

#include <sys/utsname.h>

#include <algorithm>
#include <filesystem>
#include <charconv>
#include <sstream>

namespace smartvm::nodeld {

namespace {

// An interface name as the kernel accepts it (IFNAMSIZ - 1, no '/' or white space), optionally
// with the glob characters * ? [ ] in it.
bool valid_interface_pattern(const std::string& s) {
  if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '/' || c == ':' || c <= ' ' || c == 127; });
}

bool valid_ipv4(const std::string& s) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(s, ec);
  return !ec && a.is_v4();
}

bool valid_host_port(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  auto port = parse_integer<unsigned>(std::string_view(s).substr(colon + 1));
  return port && *port > 0 && *port <= 65535;
}

IoLimits read_limits(ConfigReader& r, const std::string& section) {
  IoLimits l;
  l.read_bytes_sec = r.get_size(section, "read_bytes_sec", 0);
  l.write_bytes_sec = r.get_size(section, "write_bytes_sec", 0);
  l.read_iops_sec = r.get_uint(section, "read_iops_sec", 0, 0, 100'000'000);
  l.write_iops_sec = r.get_uint(section, "write_iops_sec", 0, 0, 100'000'000);
  return l;
}

std::string host_name() {
  struct utsname u {};
  if (uname(&u) != 0) return "localhost";
  std::string n = u.nodename;
  return n.empty() ? "localhost" : n;
}

}  // namespace

std::chrono::milliseconds NodeldConfig::source_deadline() const {
  return std::min<std::chrono::milliseconds>(std::chrono::duration_cast<std::chrono::milliseconds>(interval) / 2,
                                             std::chrono::seconds(5));
}

Result<HttpTarget> parse_http_url(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return make_error("\"" + url + "\" is not a URL: " + u.error().message());
  if (u->scheme() != "http")
    return make_error("\"" + url + "\": only http:// is supported (put a TLS proxy in front of the frontend for https)");
  if (u->encoded_host().empty()) return make_error("\"" + url + "\" names no host");
  if (u->has_userinfo()) return make_error("\"" + url + "\": credentials belong in token_file, not in the URL");
  HttpTarget t;
  t.url = url;
  t.host = u->host_address();  // without the [] of an IPv6 literal
  t.port = u->has_port() ? std::string(u->port()) : "80";
  t.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
  if (u->has_query()) t.target += "?" + std::string(u->encoded_query());
  return t;
}

LoadedConfig load_nodeld_config(const IniDocument& doc, bool read_token) {
  LoadedConfig out;
  NodeldConfig& c = out.config;
  ConfigReader r(doc);

  // [node]
  c.name = r.get_string("node", "name", host_name());
  if (!valid_node_name(c.name))
    r.error("node", "name", "\"" + c.name + "\" is not a node name (1 to 253 of A-Z a-z 0-9 . _ -)");
  c.libvirt_uri = r.get_string("node", "libvirt_uri", c.libvirt_uri);
  if (c.libvirt_uri.find(':') == std::string::npos)
    r.error("node", "libvirt_uri", "\"" + c.libvirt_uri + "\" is not a libvirt URI (qemu:///system, xen:///system, ...)");
  c.interval = std::chrono::seconds(r.get_uint("node", "interval", 10, 1, 3600));
  c.proc_root = r.get_string("node", "proc_root", c.proc_root);
  c.sysfs_root = r.get_string("node", "sysfs_root", c.sysfs_root);
  for (auto [key, value] : {std::pair{"proc_root", &c.proc_root}, std::pair{"sysfs_root", &c.sysfs_root}})
    if (value->empty() || value->front() != '/') r.error("node", key, "\"" + *value + "\" must be an absolute path");

  // [report]
  std::string frontend = r.get_string("report", "frontend");
  c.token_file = r.get_string("report", "token_file", "/etc/smartvm/frontend.token");
  if (!frontend.empty()) {
    auto t = parse_http_url(frontend);
    if (t) {
      c.frontend = *t;
    } else {
      r.error("report", "frontend", t.error().message);
    }
    if (read_token) {
      auto token = read_token_file(c.token_file);
      if (token) {
        c.token = *token;
      } else {
        r.error("report", "token_file", token.error().message);
      }
    }
  }
  c.post_timeout = std::chrono::seconds(r.get_uint("report", "timeout", 5, 1, 300));
  c.metrics_listen = r.get_string("report", "metrics_listen", c.metrics_listen);
  // Checked by the parser the metrics server binds with (port 0: any free port).
  if (!c.metrics_listen.empty() && !parse_listen_address(c.metrics_listen))
    r.error("report", "metrics_listen", "\"" + c.metrics_listen + "\" is not ADDRESS:PORT (127.0.0.1:9650)");

  // [ipoib]
  c.ipoib_interface = r.get_string("ipoib", "interface", c.ipoib_interface);
  if (!valid_interface_pattern(c.ipoib_interface) || c.ipoib_interface.find_first_of("*?[") != std::string::npos)
    r.error("ipoib", "interface", "\"" + c.ipoib_interface + "\" is not an interface name");
  if (const IniEntry* e = doc.find("ipoib", "guest_interfaces"); e) {
    std::string patterns = r.get_string("ipoib", "guest_interfaces");
    for (std::string_view word : split_words(patterns)) c.guest_interfaces.emplace_back(word);
    for (const std::string& g : c.guest_interfaces)
      if (!valid_interface_pattern(g)) r.error("ipoib", "guest_interfaces", "\"" + g + "\" is not an interface name or glob");
  }
  c.ipoib_mode = r.get_choice("ipoib", "mode", 0, {"route", "off"}) == 0 ? IpoibMode::route : IpoibMode::off;
  // vif1.0=10.10.0.5 vif2.0=10.10.0.6,10.10.0.7
  std::string guests = r.get_string("ipoib", "guests");
  for (std::string_view w : split_words(guests)) {
    std::string word(w);
    size_t eq = word.find('=');
    std::string interface = eq == std::string::npos ? "" : word.substr(0, eq);
    std::vector<std::string> list;
    if (eq != std::string::npos) {
      std::string rest = word.substr(eq + 1);
      for (size_t from = 0;;) {
        size_t comma = rest.find(',', from);
        list.push_back(rest.substr(from, comma - from));
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    }
    bool ok = eq != std::string::npos && valid_interface_pattern(interface) &&
              interface.find_first_of("*?[") == std::string::npos &&
              std::all_of(list.begin(), list.end(), [](const std::string& a) { return valid_ipv4(a); });
    if (!ok) {
      r.error("ipoib", "guests", "\"" + word + "\" is not INTERFACE=IPV4ADDRESS[,IPV4ADDRESS...] (vif1.0=10.10.0.5)");
      continue;
    }
    for (const std::string& a : list) c.static_guests.push_back({interface, a});
  }
  c.guest_subnet = r.get_string("ipoib", "guest_subnet");
  if (!c.guest_subnet.empty()) {
    boost::system::error_code ec;
    auto net = boost::asio::ip::make_network_v4(c.guest_subnet, ec);
    if (ec || net.network() != net.address())
      r.error("ipoib", "guest_subnet", "\"" + c.guest_subnet + "\" is not an IPv4 network such as 10.10.0.0/24");
  }
  c.repository_probe = r.get_string("ipoib", "repository_probe");
  if (!c.repository_probe.empty() && !valid_host_port(c.repository_probe))
    r.error("ipoib", "repository_probe", "\"" + c.repository_probe + "\" is not HOST:PORT (10.10.0.1:2049)");

  // [throttle]
  c.throttle_enabled = r.get_bool("throttle", "enabled", true);
  c.throttle_mode = r.get_choice("throttle", "mode", 1, {"static", "adaptive"}) == 0 ? ThrottleMode::fixed
                                                                                      : ThrottleMode::adaptive;
  c.throttle_limits = read_limits(r, "throttle");
  c.target_io_pressure = static_cast<unsigned>(r.get_uint("throttle", "target_io_pressure", 10, 1, 100));
  c.throttle_backend = r.get_choice("throttle", "backend", 0, {"libvirt", "cgroup"}) == 0 ? ThrottleBackendKind::libvirt
                                                                                           : ThrottleBackendKind::cgroup;
  c.throttle_cgroup = r.get_string("throttle", "cgroup");
  if (c.throttle_backend == ThrottleBackendKind::cgroup && c.throttle_enabled) {
    if (c.throttle_cgroup.empty() || c.throttle_cgroup[0] != '/')
      r.error("throttle", c.throttle_cgroup.empty() ? "backend" : "cgroup", "backend = cgroup needs the guests' cgroup directory as an absolute path with %n, %u or %i in it "
                                    "(/sys/fs/cgroup/blkio/machine/%n.libvirt-qemu)");
    else if (c.throttle_cgroup.find_first_of("%") == std::string::npos)
      r.error("throttle", "cgroup", "\"" + c.throttle_cgroup + "\" names one directory for every guest: put %n (name), %u (uuid) or %i (id) in it");
  }
  c.floor_bytes_sec = r.get_size("throttle", "floor_bytes_sec", c.floor_bytes_sec);
  c.floor_iops_sec = r.get_uint("throttle", "floor_iops_sec", c.floor_iops_sec, 1, 100'000'000);
  c.throttle_step = static_cast<unsigned>(r.get_uint("throttle", "step", c.throttle_step, 5, 90));
  c.relax_after = std::chrono::seconds(r.get_uint("throttle", "relax_after", 5, 1, 3600));
  c.override_foreign_limits = r.get_bool("throttle", "override_foreign_limits", false);
  c.throttle_pressure = r.get_string("throttle", "pressure");
  if (!c.throttle_pressure.empty() && c.throttle_pressure[0] != '/')
    r.error("throttle", "pressure", "\"" + c.throttle_pressure + "\" is not an absolute path to a PSI file (/sys/fs/cgroup/system.slice/io.pressure)");
  c.domain_pressure = r.get_string("throttle", "domain_pressure");
  if (!c.domain_pressure.empty() && (c.domain_pressure[0] != '/' || c.domain_pressure.find('%') == std::string::npos))
    r.error("throttle", "domain_pressure", "\"" + c.domain_pressure + "\" is not an absolute path with %n, %u or %i in it "
            "(/sys/fs/cgroup/machine/qemu-%i-%n.libvirt-qemu/io.pressure)");
  // [throttle:GLOB] sections, in the order of the file: the first that matches a domain wins.
  std::vector<std::string> sections;
  for (const IniEntry& e : doc.entries())
    if (e.section.rfind("throttle:", 0) == 0 && std::find(sections.begin(), sections.end(), e.section) == sections.end())
      sections.push_back(e.section);
  for (const std::string& section : sections) {
    IoLimits l = read_limits(r, section);
    ThrottleOverride o;
    o.pattern = section.substr(9);
    for (size_t i = 0; i < 4; ++i)
      if (doc.find(section, throttle_keys[i])) o.limits[i] = l.*IoLimits::fields[i];
    if (o.pattern.empty()) r.error(section, "", "[throttle:GLOB] needs a glob of domain names, such as [throttle:bigdata-*]");
    c.throttle_sections.push_back(std::move(o));
  }

  // [jobs]
  c.jobs_runtime_dir = std::filesystem::path(r.get_string("jobs", "runtime_dir", c.jobs_runtime_dir)).lexically_normal();
  if (!c.jobs_runtime_dir.empty() && c.jobs_runtime_dir.back() == '/' && c.jobs_runtime_dir != "/")
    c.jobs_runtime_dir.pop_back();
  // Everything directly in it may be removed: never the root or a directory right under it.
  if (c.jobs_runtime_dir.empty() || c.jobs_runtime_dir.front() != '/' ||
      std::count(c.jobs_runtime_dir.begin(), c.jobs_runtime_dir.end(), '/') < 2 ||
      c.jobs_runtime_dir.find("/../") != std::string::npos)
    r.error("jobs", "runtime_dir", "\"" + c.jobs_runtime_dir + "\" must be an absolute path at least two levels deep (/run/smartvm/jobs)");
  c.jobs_cleanup = r.get_bool("jobs", "cleanup", true);

  out.diagnostics = r.finish();
  return out;
}

LoadedConfig load_nodeld_config_file(const std::string& path) {
  auto text = read_small_file(path);
  if (!text) {
    LoadedConfig out;
    out.diagnostics.push_back({Diagnostic::Severity::error, path, 0, text.error().message});
    return out;
  }
  return load_nodeld_config(IniDocument::parse(*text, path));
}

}  // namespace smartvm::nodeld
