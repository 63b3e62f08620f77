#include "throttler.hpp"

#include "cgroup_limiter.hpp"
#include "host_stats.hpp"
#include "throttle_backend.hpp"
#include "log.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

namespace smartvm::nodeld {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string describe(const IoLimits& l) {
  if (!l.any()) return "none";
  std::string out;
  auto part = [&](const char* what, uint64_t v, bool bytes) {
    if (!v) return;
    char buf[48];
    if (bytes) std::snprintf(buf, sizeof buf, "%s %.1f MiB/s", what, double(v) / (1024 * 1024));
    else std::snprintf(buf, sizeof buf, "%s %llu/s", what, static_cast<unsigned long long>(v));
    out += out.empty() ? buf : std::string(", ") + buf;
  };
  part("read", l.read_bytes_sec, true);
  part("write", l.write_bytes_sec, true);
  part("read ops", l.read_iops_sec, false);
  part("write ops", l.write_iops_sec, false);
  return out;
}

}  // namespace

Throttler::Throttler(asio::io_context& io, LibvirtFn libvirt, SayFn say)
    : io_(io), libvirt_(std::move(libvirt)), say_(std::move(say)), timer_(io), trigger_pause_(io) {}

void Throttler::say(log::Level level, std::string message) { notes_.push_back(ThrottleNote{level, std::move(message)}); }

Throttler::~Throttler() { stop(); }

void Throttler::configure(ThrottleSettings s) {
  bool trigger_changed = s.pressure != settings_.pressure || s.params.target_pressure != settings_.params.target_pressure ||
                         s.mode != settings_.mode || s.enabled != settings_.enabled;
  settings_ = std::move(s);
  if (!settings_.enabled) {
    // Nothing ticks to say otherwise: no guest is held by the throttle any more.
    std::lock_guard lock(applied_mutex_);
    states_.clear();
  }
  if (running_ && trigger_changed) arm_trigger();
}

void Throttler::start() {
  running_ = true;
  arm_trigger();
  tick();
}

void Throttler::stop() {
  running_ = false;
  timer_.cancel();
  trigger_pause_.cancel();
  if (trigger_) {
    boost::system::error_code ignored;
    trigger_->close(ignored);
    trigger_.reset();
  }
}

void Throttler::kick() {
  if (!running_) return;
  timer_.cancel();
  tick();
}

void Throttler::schedule() {
  if (!running_) return;
  timer_.expires_after(settings_.mode == ThrottleMode::adaptive ? std::chrono::seconds(1) : settings_.interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) tick();
  });
}

void Throttler::tick() {
  if (settings_.enabled) {
    // A worker still busy (libvirtd hanging) skips this tick; the next one asks again.
    worker_.run(io_, [this, s = settings_] {
      // Whatever a tick throws ends that tick, not nodeld; the next one tries again.
      try {
        work(s);
      } catch (const std::exception& e) {
        say(log::Level::error, std::string("throttle: unexpected failure, tick skipped: ") + e.what());
      }
      // The tick's notes are said on the main loop, by whoever gave say_.
      return [say = say_, notes = std::exchange(notes_, {})] {
        for (const ThrottleNote& n : notes) say(n.level, n.message);
      };
    });
  }
  schedule();
}

// A PSI trigger wakes the loop as soon as the host stalls on I/O for more than the target
// share of a window, without waiting for the next second.
void Throttler::arm_trigger() {
  if (trigger_) {
    boost::system::error_code ignored;
    trigger_->close(ignored);
    trigger_.reset();
  }
  if (!settings_.enabled || settings_.mode != ThrottleMode::adaptive) return;
  std::string why;
  // The kernel takes windows of 500 ms to 10 s from privileged writers and multiples of 2 s
  // from others (and from containers without CAP_SYS_RESOURCE): try 1 s, then 2 s.
  std::vector<std::string> files{settings_.pressure};
  // Some kernels refuse triggers on /proc/pressure but take them on the cgroup2 root's file,
  // which has the same numbers.
  if (settings_.pressure == settings_.proc_root + "/pressure/io" && settings_.proc_root == "/proc")
    files.insert(files.end(), {"/sys/fs/cgroup/unified/io.pressure", "/sys/fs/cgroup/io.pressure"});
  for (const std::string& file : files)
    for (unsigned window_us : {1'000'000u, 2'000'000u}) {
      int fd = ::open(file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        why = file + ": " + std::strerror(errno);
        break;
      }
      // Only the kernel's PSI files take triggers; a trigger written into an ordinary file
      // (a test's stand-in) would overwrite it.
      struct statfs fsinfo {};
      if (fstatfs(fd, &fsinfo) != 0 || (fsinfo.f_type != PROC_SUPER_MAGIC && fsinfo.f_type != CGROUP2_SUPER_MAGIC)) {
        why = file + " is not in /proc or a cgroup2 file system";
        ::close(fd);
        break;
      }
      std::string spec = "some " + std::to_string(window_us / 100 * unsigned(settings_.params.target_pressure)) + " " +
                         std::to_string(window_us);
      if (::write(fd, spec.c_str(), spec.size() + 1) < 0) {
        why = file + ": trigger \"" + spec + "\": " + std::strerror(errno);
        ::close(fd);
        continue;
      }
      trigger_.emplace(io_, fd);
      say_(log::Level::info, "I/O pressure trigger armed on " + file + " (" + spec + ")");
      wait_trigger();
      return;
    }
  say_(log::Level::info, "no I/O pressure trigger (" + why + "); pressure is read once a second");
}

void Throttler::wait_trigger() {
  if (!trigger_) return;
  trigger_->async_wait(asio::posix::stream_descriptor::wait_error, [this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    kick();
    // The trigger fires at most once per window; wait a second before listening again.
    trigger_pause_.expires_after(std::chrono::seconds(1));
    trigger_pause_.async_wait([this](const boost::system::error_code& e) {
      if (!e) wait_trigger();
    });
  });
}

std::map<std::string, IoLimits> Throttler::applied() const {
  std::lock_guard lock(applied_mutex_);
  return applied_;
}

std::map<std::string, std::string> Throttler::problems() const {
  std::lock_guard lock(applied_mutex_);
  return problems_;
}

std::map<std::string, DomainThrottleState> Throttler::states() const {
  std::lock_guard lock(applied_mutex_);
  return states_;
}

std::optional<double> Throttler::adaptive_target() const {
  if (!settings_.enabled || settings_.mode != ThrottleMode::adaptive) return std::nullopt;
  return settings_.params.target_pressure;
}

std::map<std::string, DomainIoPressure> Throttler::guest_pressure() const {
  std::lock_guard lock(applied_mutex_);
  return guest_pressure_;
}

std::optional<double> Throttler::io_pressure(const ThrottleSettings& s) {
  auto p = read_pressure(s.pressure);
  if (!p) return std::nullopt;
  return host_stall_.update(*p, Clock::now());
}

void Throttler::work(const ThrottleSettings& s) {
  auto src = libvirt_();
  auto backend = make_throttle_backend(s.backend, s.cgroup, s.sysfs_root, src,
                                       [this](log::Level level, const std::string& message) { say(level, message); });
  // The report's libvirt source logs a lost connection already; once is enough, at info.
  // What is wrong this tick, by subject; the daemon says each once.
  std::map<std::string, std::string> problems;
  auto pause = [this](const Error& e) {
    std::lock_guard lock(applied_mutex_);
    problems_["throttle"] = "paused: " + e.message;  // the guests' problems stand as they were
  };
  auto loads = src->block_load();
  if (!loads) return pause(loads.error());
  controller_.set_params(s.params);
  std::optional<double> pressure = io_pressure(s);
  auto now = Clock::now();

  std::vector<GuestIo> inputs;
  std::map<std::string, DomainIoPressure> guest_pressure;
  std::map<std::string, DomainThrottleState> states;
  const DomainThrottleState foreign{"limits nodeld did not set; left alone (override_foreign_limits = false)", std::nullopt};
  std::map<std::string, const GuestBlockLoad*> by_name;
  std::set<std::string> present;
  for (const GuestBlockLoad& g : *loads) {
    std::string key = g.uuid + "/" + std::to_string(g.id);
    present.insert(key);
    Guest& k = guests_[key];
    GuestIo in;
    in.name = g.name;
    // The backend's counters where it has its own (what the host's disk saw of the guest),
    // libvirt's otherwise.
    uint64_t counters[4] = {g.counters[0], g.counters[1], g.counters[2], g.counters[3]};
    if (auto c = backend->counters(g))
      for (int f = 0; f < 4; ++f) counters[f] = (*c)[size_t(f)];
    double seconds = std::chrono::duration<double>(now - k.counted_at).count();
    for (int f = 0; f < 4; ++f) {
      if (k.counted_at != Clock::time_point{} && seconds > 0 && counters[f] >= k.counters[f])
        in.rate[f] = double(counters[f] - k.counters[f]) / seconds;
      k.counters[f] = counters[f];
    }
    k.counted_at = now;
    if (!s.domain_pressure.empty()) {
      auto p = read_pressure(expand_cgroup_template(s.domain_pressure, g.name, g.uuid, g.id));
      if (p) {
        in.own_pressure = k.stall.update(*p, now);
        guest_pressure[g.name] = DomainIoPressure{*in.own_pressure, p->some_total_us};
      } else {
        problems["throttle: domain " + g.name] = "no I/O pressure of its own: " + p.error().message;
      }
    }

    if (g.first_sight && !g.disks_error.empty()) say(log::Level::warning, "domain " + g.name + ": " + g.disks_error);
    std::optional<ThrottleOverride> metadata;
    if (!g.policy_xml.empty()) {
      auto parsed = parse_throttle_element(g.policy_xml);
      if (parsed) metadata = std::move(*parsed);
      else if (g.first_sight) say(log::Level::warning, "domain " + g.name + ": " + parsed.error().message + "; the [throttle] policy applies");
    }
    in.ceiling = resolve_throttle_policy(s.defaults, s.sections, g.name, metadata ? &*metadata : nullptr);

    if ((g.first_sight || !k.checked) && !g.disks.empty()) {
      // Are the limits on it now nodeld's own (what it recorded), or somebody else's?
      auto current = backend->current_limits(g);
      if (!current) {
        if (!src->connected()) return pause(current.error());  // libvirtd went away meanwhile
        say(log::Level::warning, "throttle: domain " + g.name + ": " + current.error().message);
        continue;
      }
      IoLimits mine = g.recorded.value_or(k.applied_known ? k.applied : IoLimits{});
      bool was_foreign = k.foreign;
      k.foreign = current->any() && *current != mine;
      if (k.foreign && !s.override_foreign) {
        k.checked = true;
        if (!was_foreign)
          say(log::Level::warning, "throttle: domain " + g.name + " has limits nodeld did not set (" + describe(*current) +
                       "); left alone (override_foreign_limits = false)");
        states[g.name] = foreign;
        continue;
      }
      if (k.foreign) say(log::Level::notice, "throttle: domain " + g.name + ": replacing limits nodeld did not set (" + describe(*current) + ")");
      k.foreign = false;
      k.checked = true;
      k.applied = *current;
      k.applied_known = true;
    }
    if (k.foreign) states[g.name] = foreign;
    if (k.foreign || g.disks.empty()) continue;
    by_name[g.name] = &g;
    inputs.push_back(std::move(in));
  }
  std::erase_if(guests_, [&](const auto& kv) { return !present.count(kv.first); });

  std::map<std::string, std::string> reasons;
  if (s.mode == ThrottleMode::adaptive && pressure)
    for (ThrottleChange& c : controller_.step(now, *pressure, inputs)) reasons[c.name] = std::move(c.reason);

  std::map<std::string, IoLimits> applied;
  for (const GuestIo& in : inputs) {
    const GuestBlockLoad& g = *by_name[in.name];
    Guest& k = guests_[g.uuid + "/" + std::to_string(g.id)];
    IoLimits want = s.mode == ThrottleMode::adaptive ? controller_.limits(in) : in.ceiling;
    if (!k.applied_known || want != k.applied) {
      auto r = backend->apply(g, want);
      if (!r) {
        if (!src->connected()) return pause(r.error());
        say(log::Level::warning, "throttle: domain " + g.name + ": " + r.error().message);
      } else {
        std::string why = reasons.count(in.name) ? reasons[in.name] : "policy";
        say(log::Level::notice, "throttle: domain " + g.name + ": " + describe(want) + " per disk (" + why + ")");
        k.applied = want;
        k.applied_known = true;
      }
    }
    if (k.applied_known && k.applied.any()) applied[g.name] = k.applied;
    if (s.mode == ThrottleMode::adaptive)
      states[g.name] = DomainThrottleState{controller_.explain(in, pressure), controller_.at_floor(in.name)};
    else
      states[g.name] = DomainThrottleState{in.ceiling.any() ? "static policy" : "no limits", std::nullopt};
  }
  std::lock_guard lock(applied_mutex_);
  applied_ = std::move(applied);
  guest_pressure_ = std::move(guest_pressure);
  states_ = std::move(states);
  problems_ = std::move(problems);
}

}  // namespace smartvm::nodeld
