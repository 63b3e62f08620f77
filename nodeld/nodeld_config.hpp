// nodeld's configuration (DESIGN.md, "The nodeld contract"; nodeld(8)): read from an INI file,
// every value checked, every problem located by file and line. Loading never stops at the
// first problem, so --check-config and a refused SIGHUP reload list them all.
#pragma once

#include "diagnostic.hpp"
#include "io_limits.hpp"
#include "report_sender.hpp"
#include "throttle_policy.hpp"
#include "error.hpp"
#include "ini_document.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct GuestAddress {
  std::string interface;  // vif1.0
  std::string address;    // 10.10.0.5
};

enum class IpoibMode { route, off };

struct NodeldConfig {
  // [node]
  std::string name;  // default: the host name
  std::string libvirt_uri = "qemu:///system";
  std::chrono::seconds interval{10};
  std::string proc_root = "/proc";  // for tests: a fake /proc tree
  std::string sysfs_root = "/sys";  // for tests: a fake /sys tree

  // [report]
  std::optional<HttpTarget> frontend;  // none: reports are not sent
  std::string token_file;
  std::string token;  // read from token_file when the configuration is loaded
  std::chrono::seconds post_timeout{5};
  std::string metrics_listen = "127.0.0.1:9650";  // "": no /metrics

  // [ipoib]
  std::string ipoib_interface = "ib0";
  std::vector<std::string> guest_interfaces{"vif*"};
  IpoibMode ipoib_mode = IpoibMode::route;
  std::vector<GuestAddress> static_guests;
  std::string guest_subnet;      // "" or 10.10.0.0/24
  std::string repository_probe;  // "" or host:port

  // [throttle]
  bool throttle_enabled = true;
  ThrottleMode throttle_mode = ThrottleMode::adaptive;
  IoLimits throttle_limits;  // read_bytes_sec ... write_iops_sec
  unsigned target_io_pressure = 10;
  ThrottleBackendKind throttle_backend = ThrottleBackendKind::libvirt;
  // backend = cgroup: the guest's cgroup directory, with %n (domain name), %u (uuid) and %i
  // (libvirt's id) in it; v1 blkio or v2 io.max, whichever the directory has.
  std::string throttle_cgroup;
  uint64_t floor_bytes_sec = 1 << 20, floor_iops_sec = 20;  // adaptive caps never go below
  unsigned throttle_step = 30;                               // percent, the largest change at once
  std::chrono::seconds relax_after{5};
  bool override_foreign_limits = false;  // limits nodeld did not set stay unless this is true
  // The PSI file the adaptive mode keeps under target_io_pressure; "" is [node] proc_root's
  // pressure/io (the whole host, guests' own stalls included). On a host whose guests run
  // in their own cgroup, the io.pressure of the host's services' cgroup is the better signal.
  std::string throttle_pressure;
  // The io.pressure file of a guest's own cgroup (cgroup v2), with %n %u %i as in
  // throttle_cgroup; "" reads none. Reported per domain and said in the throttle's reasons.
  std::string domain_pressure;
  std::vector<ThrottleOverride> throttle_sections;  // [throttle:GLOB], in file order

  // [jobs]
  // Where smartvm-run keeps each job's directory (its --runtime-dir): the only place nodeld
  // removes anything from, and only directories directly in it.
  std::string jobs_runtime_dir = "/run/smartvm/jobs";
  bool jobs_cleanup = true;  // destroy job domains whose smartvm-run is gone, remove their files

  // How long one source may take before its part of a report is marked stale: half the
  // interval, at most 5 s, so that the report still goes out on time.
  std::chrono::milliseconds source_deadline() const;
};

struct LoadedConfig {
  NodeldConfig config;
  Diagnostics diagnostics;  // errors make the configuration unusable; warnings do not
};

// Checks a parsed document; `read_token` false skips reading token_file (unit tests of values).
LoadedConfig load_nodeld_config(const IniDocument& doc, bool read_token = true);
// Reads and checks a file. A missing or unreadable file is one error diagnostic.
LoadedConfig load_nodeld_config_file(const std::string& path);

// http://host[:port]/path: what the frontend's URL may be (TLS is for a proxy in front of it).
Result<HttpTarget> parse_http_url(const std::string& url);

}  // namespace smartvm::nodeld
