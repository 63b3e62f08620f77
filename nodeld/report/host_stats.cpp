#include "host_stats.hpp"

#include "parse_number.hpp"
#include "small_file.hpp"
#include "split_words.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace smartvm::nodeld {

namespace {

// /proc prints fixed-point decimals ("0.52", "12.05"), locale-independent like from_chars.
bool to_double(std::string_view s, double& v) {
  auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), v);
  return e == std::errc() && p == s.data() + s.size() && !s.empty();
}

template <typename F>
void for_each_line(std::string_view text, F f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

Result<CpuTimes> parse_proc_stat_cpu(std::string_view text, unsigned* cores) {
  std::optional<CpuTimes> total;
  unsigned n = 0;
  bool bad = false;
  for_each_line(text, [&](std::string_view line) {
    if (line.substr(0, 3) != "cpu") return;
    auto f = split_words(line);
    if (f[0] != "cpu") {
      ++n;  // cpu0, cpu1, ...: the CPUs this kernel has online
      return;
    }
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    if (f.size() < 5) {
      bad = true;
      return;
    }
    CpuTimes t;
    for (size_t i = 1; i < f.size() && i <= 8; ++i) {
      auto v = parse_integer<uint64_t>(f[i]);
      if (!v) {
        bad = true;
        return;
      }
      t.total += *v;
      if (i != 4 && i != 5) t.busy += *v;  // idle and iowait are not busy
    }
    total = t;
  });
  if (bad || !total) return make_error("/proc/stat: no readable \"cpu\" line");
  if (cores) *cores = n ? n : 1;
  return *total;
}

Result<void> parse_meminfo(std::string_view text, HostStats& out) {
  bool total = false, available = false;
  for_each_line(text, [&](std::string_view line) {
    auto f = split_words(line);
    if (f.size() < 2) return;
    auto v = parse_integer<uint64_t>(f[1]);
    if (f[0] == "MemTotal:" && v) out.memory_total_kib = *v, total = true;
    if (f[0] == "MemAvailable:" && v) out.memory_available_kib = *v, available = true;
  });
  if (!total || !available) return make_error("/proc/meminfo: no MemTotal or MemAvailable");
  return {};
}

Result<void> parse_loadavg(std::string_view text, HostStats& out) {
  auto f = split_words(text.substr(0, text.find('\n')));
  if (f.size() < 3 || !to_double(f[0], out.load[0]) || !to_double(f[1], out.load[1]) || !to_double(f[2], out.load[2]))
    return make_error("/proc/loadavg: not three load averages");
  return {};
}

Result<Pressure> read_pressure(const std::string& file) {
  auto text = read_small_file(file, 4096);
  if (!text) return text.error();
  auto p = parse_pressure(*text);
  if (!p) return p.error().context(file);
  return p;
}

double StallMeter::update(const Pressure& p, std::chrono::steady_clock::time_point now) {
  double seconds = std::chrono::duration<double>(now - at).count();
  double out = p.some_avg10;
  // A counter that went backwards (another file behind the same name) restarts the meter.
  if (total_us && seconds > 0.1 && p.some_total_us >= *total_us)
    out = std::min(100.0, double(p.some_total_us - *total_us) / 1e6 / seconds * 100);
  total_us = p.some_total_us;
  at = now;
  return out;
}

Result<Pressure> parse_pressure(std::string_view text) {
  Pressure p;
  bool some = false;
  for_each_line(text, [&](std::string_view line) {
    auto f = split_words(line);
    if (f.size() < 2 || f[1].substr(0, 6) != "avg10=") return;
    double v = 0;
    if (!to_double(f[1].substr(6), v)) return;
    if (f[0] == "some") p.some_avg10 = v, some = true;
    if (f[0] == "full") p.full_avg10 = v;
    if (f[0] == "some" && f.size() >= 5 && f[4].substr(0, 6) == "total=") {
      p.some_total_us = parse_integer<uint64_t>(f[4].substr(6)).value_or(0);
    }
  });
  if (!some) return make_error("no \"some avg10=\" line");
  return p;
}

std::optional<double> cpu_use_between(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return std::nullopt;
  double use = 100.0 * double(after.busy - before.busy) / double(after.total - before.total);
  return use > 100.0 ? 100.0 : use;
}

Result<HostStats> HostStatsSource::collect() {
  HostStats s;
  auto read = [&](const char* name) { return read_small_file(proc_root_ + "/" + name, 1 << 20); };

  auto stat = read("stat");
  if (!stat) return stat.error();
  auto cpu = parse_proc_stat_cpu(*stat, &s.cpu_cores);
  if (!cpu) return cpu.error();
  if (previous_) s.cpu_use_percent = cpu_use_between(*previous_, *cpu);
  previous_ = *cpu;

  auto meminfo = read("meminfo");
  if (!meminfo) return meminfo.error();
  if (auto r = parse_meminfo(*meminfo, s); !r) return r.error();

  auto loadavg = read("loadavg");
  if (!loadavg) return loadavg.error();
  if (auto r = parse_loadavg(*loadavg, s); !r) return r.error();

  // PSI is optional (kernels before 4.20, or booted with psi=0): no file, no pressure.
  struct {
    const char* file;
    std::optional<Pressure>* out;
  } psi[] = {{"pressure/cpu", &s.pressure_cpu}, {"pressure/io", &s.pressure_io}, {"pressure/memory", &s.pressure_memory}};
  for (auto& [file, out] : psi) {
    auto p = read_pressure(proc_root_ + "/" + file);
    if (!p) {
      if (p.error().code == std::errc::no_such_file_or_directory || p.error().code == std::errc::operation_not_supported)
        continue;
      return p.error();
    }
    *out = *p;
  }

  auto uptime = read("uptime");
  if (!uptime) return uptime.error();
  std::string_view up_line = std::string_view(*uptime).substr(0, uptime->find('\n'));
  auto up = split_words(up_line);
  if (up.empty() || !to_double(up[0], s.uptime_seconds)) return make_error(proc_root_ + "/uptime: no uptime");

  auto boot_id = read("sys/kernel/random/boot_id");
  if (!boot_id) return boot_id.error();
  s.boot_id = boot_id->substr(0, boot_id->find('\n'));
  return s;
}

}  // namespace smartvm::nodeld
