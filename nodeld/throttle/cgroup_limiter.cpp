#include "cgroup_limiter.hpp"

#include "parse_number.hpp"
#include "percent_template.hpp"
#include "small_file.hpp"
#include "split_words.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>

namespace smartvm::nodeld {

namespace fs = std::filesystem;

namespace {

const char* const v1_files[4] = {"blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                                 "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
const char* const v2_keys[4] = {"rbps", "wbps", "riops", "wiops"};

// Whether `path` is there; an error (a symlink loop, a directory that cannot be searched, a
// cgroup that went away between two calls) names it. Never the throwing overloads: this runs on
// the throttler's worker thread, where an exception would end nodeld.
Result<bool> present(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
    return make_error(path + ": " + ec.message());
  return fs::exists(st);
}

// Whether the cgroup is v2 (it has io.max); an error when that cannot be told.
Result<bool> v2_of(const std::string& dir) { return present(dir + "/io.max"); }

// One write(2) of the whole line: cgroup files take one rule per write.
Result<void> write_rule(const std::string& file, const std::string& line) {
  if (auto r = write_kernel_file(file, line); !r) return r.error().context("the rule \"" + line + "\"");
  return {};
}

}  // namespace

Result<BlockDevice> block_device_of(const std::string& path, const std::string& sysfs_root) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return make_error(path + ": " + std::strerror(errno));
  dev_t dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
  BlockDevice d{major(dev), minor(dev)};
  if (d.major == 0) return make_error(path + " is not on a block device (" + d.text() + "): nothing to throttle");
  std::error_code ec;
  fs::path node = fs::canonical(sysfs_root + "/dev/block/" + d.text(), ec);
  if (ec) return make_error(sysfs_root + "/dev/block/" + d.text() + ": " + ec.message());
  auto partition = present((node / "partition").string());
  if (!partition) return partition.error();
  if (*partition) {
    auto parent = read_small_file((node.parent_path() / "dev").string(), 64);
    if (!parent) return parent.error();
    std::string text = *parent;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    size_t colon = text.find(':');
    std::optional<uint64_t> ma, mi;
    if (colon != std::string::npos) {
      ma = parse_integer<uint64_t>(std::string_view(text).substr(0, colon));
      mi = parse_integer<uint64_t>(std::string_view(text).substr(colon + 1));
    }
    if (!ma || !mi) return make_error((node.parent_path() / "dev").string() + ": not MAJOR:MINOR");
    d.major = static_cast<unsigned>(*ma);
    d.minor = static_cast<unsigned>(*mi);
  }
  return d;
}

std::string expand_cgroup_template(const std::string& tmpl, const std::string& name, const std::string& uuid, int id) {
  return expand_percent(tmpl, {{'n', name}, {'u', uuid}, {'i', std::to_string(id)}});
}

Result<void> apply_cgroup_limits(const std::string& dir, const std::vector<BlockDevice>& devices, const IoLimits& limits) {
  std::error_code ec;
  bool directory = fs::is_directory(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) return make_error("cgroup " + dir + ": " + ec.message());
  if (!directory) return make_error("cgroup " + dir + " does not exist");
  auto v2 = v2_of(dir);
  if (!v2) return v2.error();
  auto v1 = present(dir + "/" + v1_files[0]);
  if (!v1) return v1.error();
  if (!*v2 && !*v1)
    return make_error("cgroup " + dir + " has neither io.max (v2 io controller) nor blkio.throttle.* (v1 blkio)");
  for (const BlockDevice& d : devices) {
    if (*v2) {
      std::string line = d.text();
      for (int f = 0; f < 4; ++f) {
        uint64_t v = limits.*IoLimits::fields[f];
        line += std::string(" ") + v2_keys[f] + "=" + (v ? std::to_string(v) : "max");
      }
      if (auto r = write_rule(dir + "/io.max", line); !r) return r;
    } else {
      for (int f = 0; f < 4; ++f)  // 0 removes the rule
        if (auto r = write_rule(dir + "/" + v1_files[f], d.text() + " " + std::to_string(limits.*IoLimits::fields[f])); !r)
          return r;
    }
  }
  return {};
}

Result<void> enable_io_accounting(const std::string& dir, const BlockDevice& device) {
  auto v2 = v2_of(dir);
  if (!v2) return v2.error();
  if (*v2) return {};
  auto current = cgroup_limits(dir, device);
  if (!current) return current.error();
  if (current->read_bytes_sec != 0) return {};  // a rule exists: blk-throttle is active
  return write_rule(dir + "/" + v1_files[0], device.text() + " 0");
}

Result<IoLimits> cgroup_limits(const std::string& dir, const BlockDevice& device) {
  IoLimits l;
  std::string prefix = device.text() + " ";
  auto scan = [&](const std::string& file, auto on_line) -> Result<void> {
    auto text = read_small_file(file, 1 << 20);
    if (!text) return text.error();
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(prefix, 0) == 0) on_line(line.substr(prefix.size()));
    return {};
  };
  auto v2 = v2_of(dir);
  if (!v2) return v2.error();
  if (*v2) {
    auto r = scan(dir + "/io.max", [&](const std::string& rest) {
      for (std::string_view w : split_words(rest))
        for (int f = 0; f < 4; ++f)
          if (w.rfind(std::string(v2_keys[f]) + "=", 0) == 0)
            l.*IoLimits::fields[f] = parse_integer<uint64_t>(w.substr(std::strlen(v2_keys[f]) + 1)).value_or(0);  // "max": none
    });
    if (!r) return r.error();
    return l;
  }
  for (int f = 0; f < 4; ++f) {
    auto r = scan(dir + "/" + v1_files[f], [&](const std::string& rest) { l.*IoLimits::fields[f] = parse_integer<uint64_t>(rest).value_or(0); });
    if (!r) return r.error();
  }
  return l;
}

Result<std::array<uint64_t, 4>> cgroup_io_counters(const std::string& dir) {
  std::array<uint64_t, 4> out{};
  auto v2 = v2_of(dir);
  if (!v2) return v2.error();
  if (*v2) {
    auto text = read_small_file(dir + "/io.stat", 1 << 20);
    if (!text) return text.error();
    for (std::string_view w : split_words(*text))
      for (int f = 0; f < 4; ++f) {
        static const char* const keys[4] = {"rbytes=", "wbytes=", "rios=", "wios="};
        if (w.rfind(keys[f], 0) == 0) out[size_t(f)] += parse_integer<uint64_t>(w.substr(std::strlen(keys[f]))).value_or(0);
      }
    return out;
  }
  // "254:0 Read 4096" lines per device, then "Total" lines.
  const char* files[2] = {"blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced"};
  for (int i = 0; i < 2; ++i) {
    auto text = read_small_file(dir + "/" + files[i], 1 << 20);
    if (!text) return text.error();
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      auto words = split_words(line);
      if (words.size() < 3) continue;
      std::string_view op = words[1];
      uint64_t v = parse_integer<uint64_t>(words[2]).value_or(0);
      if (op == "Read") out[size_t(2 * i)] += v;
      else if (op == "Write") out[size_t(2 * i + 1)] += v;
    }
  }
  return out;
}

}  // namespace smartvm::nodeld
