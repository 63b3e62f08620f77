#include "throttle_controller.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace smartvm::nodeld {

namespace {

const char* const field_names[4] = {"read bytes/s", "write bytes/s", "read iops", "write iops"};
// A direction (read or write) below this share of a guest's bytes (or operations) is not cut.
constexpr double minor_share = 0.25;

std::string number(double v) {
  char buf[32];
  if (v >= 10 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.0f MiB", v / (1024 * 1024));
  else if (v >= 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", v / (1024 * 1024));
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string percent(double p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", p);
  return buf;
}

void add_reason(std::map<std::string, std::string>& why, const std::string& name, const std::string& part) {
  std::string& r = why[name];
  r += r.empty() ? part : "; " + part;
}

}  // namespace

IoLimits ThrottleController::caps(const std::string& name) const {
  auto it = guests_.find(name);
  return it == guests_.end() ? IoLimits{} : it->second.cap;
}

IoLimits ThrottleController::limits(const GuestIo& g) const { return tighter(g.ceiling, caps(g.name)); }

bool ThrottleController::at_floor(const std::string& name) const {
  IoLimits c = caps(name);
  if (!c.any()) return false;
  for (int f = 0; f < 4; ++f)
    if (uint64_t cap = c.*IoLimits::fields[f]; cap && cap > floor(f)) return false;
  return true;
}

std::string ThrottleController::explain(const GuestIo& g, std::optional<double> pressure) const {
  if (!caps(g.name).any()) return g.ceiling.any() ? "static policy" : "no limits";
  const double target = params_.target_pressure;
  std::string why;
  if (!pressure) why = "adaptive: host io pressure unknown; caps held";
  else if (*pressure > target) why = "adaptive: host io pressure " + percent(*pressure) + " over target " + percent(target);
  else if (*pressure >= target / 2)
    why = "adaptive: host io pressure " + percent(*pressure) + " under target " + percent(target) + "; caps held until below " +
          percent(target / 2);
  else why = "adaptive: host io pressure " + percent(*pressure) + " below " + percent(target / 2) + "; caps rising";
  if (at_floor(g.name)) why += "; at the floor";
  if (g.ceiling.any()) why += "; static policy on top";
  return why;
}

std::vector<ThrottleChange> ThrottleController::step(Clock::time_point now, double pressure,
                                                     const std::vector<GuestIo>& guests) {
  std::map<std::string, IoLimits> before;
  std::set<std::string> present;
  for (const GuestIo& g : guests) {
    before[g.name] = limits(g);
    present.insert(g.name);
  }
  std::erase_if(guests_, [&](const auto& kv) { return !present.count(kv.first); });

  std::map<std::string, std::string> why;
  std::string context = "host I/O pressure " + percent(pressure) + ", target " + percent(params_.target_pressure);
  if (pressure > params_.target_pressure) {
    calm_ = false;
    // One cut a second at most: the pressure of the next second shows what this one did.
    if (now - last_cut_ >= std::chrono::seconds(1) && cut(now, guests, why)) last_cut_ = now;
  } else if (pressure < params_.target_pressure / 2) {
    if (!calm_) calm_since_ = now;
    calm_ = true;
    if (now - calm_since_ >= params_.relax_after) relax(now, why);
  } else {
    calm_ = false;  // between half the target and the target: hold
  }

  std::vector<ThrottleChange> out;
  for (const GuestIo& g : guests) {
    IoLimits after = limits(g);
    if (after == before[g.name]) continue;
    std::string own = g.own_pressure ? ", its own " + percent(*g.own_pressure) : "";
    out.push_back({g.name, after, context + own + ": " + why[g.name]});
  }
  return out;
}

bool ThrottleController::cut(Clock::time_point now, const std::vector<GuestIo>& guests,
                             std::map<std::string, std::string>& why) {
  bool any = false, rise_overshot = false;
  for (int f = 0; f < 4; ++f) {
    double busiest = 0;
    for (const GuestIo& g : guests) busiest = std::max(busiest, g.rate[f]);
    if (busiest < static_cast<double>(floor(f))) continue;  // nobody does much of this
    // Everyone within one step of the busiest is cut to one level below it: the heavy guests
    // end up with the same cap, and a light guest is not touched.
    double group = (1 - params_.step) * busiest;
    uint64_t level = std::max(floor(f), static_cast<uint64_t>(std::llround(group)));
    for (const GuestIo& g : guests) {
      if (g.rate[f] < group) continue;
      // A direction that carries little of what this guest does now is not what loads the
      // host: cutting it to what trickles through would starve the guest's next phase (one
      // that writes a file and then reads it back).
      double both = g.rate[f] + g.rate[f ^ 1];  // read and write of the same unit
      if (g.rate[f] < minor_share * both) continue;
      Guest& s = guests_[g.name];
      uint64_t IoLimits::*field = IoLimits::fields[f];
      uint64_t cur = s.cap.*field;
      uint64_t next = cur ? std::min(cur, level) : level;
      uint64_t ceiling = g.ceiling.*field;
      if (next == cur || (ceiling && next >= ceiling)) continue;
      if (!cur) s.origin.*field = std::max(floor(f), static_cast<uint64_t>(std::llround(g.rate[f])));
      // Cut again soon after a rise: that rise went too far. Remember where it went.
      if (cur && last_rise_ != Clock::time_point{} && now - last_rise_ < 2 * params_.relax_after * patience_) {
        s.bad.*field = cur;
        s.bad_at = now;
        rise_overshot = true;
      }
      s.cap.*field = next;
      any = true;
      add_reason(why, g.name, "cut " + std::string(field_names[f]) + " to " + number(static_cast<double>(next)) +
                                  " (it did " + number(g.rate[f]) + ")");
    }
  }
  if (rise_overshot) patience_ = std::min(16, patience_ * 2);
  return any;
}

void ThrottleController::relax(Clock::time_point now, std::map<std::string, std::string>& why) {
  auto wait = params_.relax_after * patience_;
  if (now - last_cut_ < wait || (last_rise_ != Clock::time_point{} && now - last_rise_ < wait)) return;
  bool any_cap = false, rose = false;
  for (auto& [name, s] : guests_) {
    if (!s.cap.any()) continue;
    if (s.bad.any() && now - s.bad_at >= params_.forget_bad) s.bad = {};
    for (int f = 0; f < 4; ++f) {
      uint64_t IoLimits::*field = IoLimits::fields[f];
      uint64_t cap = s.cap.*field;
      if (!cap) continue;
      uint64_t origin = s.origin.*field;
      uint64_t rise = std::max<uint64_t>(1, static_cast<uint64_t>(params_.step * static_cast<double>(origin)));
      uint64_t next = cap + rise;
      uint64_t bad = s.bad.*field;
      if (bad && next >= bad) {
        // Close to a level that was too much: halve the distance, and stop when it is small.
        next = cap + (bad > cap ? (bad - cap) / 2 : 0);
        if (next - cap < rise / 8) continue;
      }
      rose = true;
      if (next >= origin) {
        s.cap.*field = 0;
        add_reason(why, name, "lifted the " + std::string(field_names[f]) + " cap");
      } else {
        s.cap.*field = next;
        add_reason(why, name, "raised " + std::string(field_names[f]) + " to " + number(static_cast<double>(next)));
      }
    }
    any_cap = any_cap || s.cap.any();
  }
  if (rose) last_rise_ = now;
  if (!any_cap) patience_ = 1;
}

}  // namespace smartvm::nodeld
