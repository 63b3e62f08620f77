// The adaptive half of guest I/O throttling: a pure decision, once a second, of which guests'
// disk limits to cut or relax, from the host's I/O pressure and what each guest does.
//
// Above the target pressure, the guests that produce most of the I/O (the top group of each
// of the four dimensions: those within one step of the busiest) are cut together to one
// cap below the busiest guest's rate: max-min fair, so two heavy guests end with the same cap
// and a newcomer is cut down to the others before they are cut again. A guest is cut only in
// the directions that carry at least a quarter of what it does that second: a guest that
// writes, then reads back, is cut in each direction at the rate of that phase, not starved by
// a cut taken while the direction only trickled. Below half the target
// for `relax_after`, every cap rises by one step of the rate the guest had when first cut, and
// goes away once it is back there. Between the two, nothing changes (hysteresis); a guest that
// must be cut again soon after a rise makes the next rise wait twice as long (up to 16x) and
// remembers the level that was too much: later rises only halve the distance to it. A steady
// load settles instead of oscillating. Caps never go below the floors; the static
// policy (the ceiling) always applies on top.
#pragma once

#include "io_limits.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct ControllerParams {
  double target_pressure = 10;   // percent of time some task waited on I/O
  double step = 0.3;             // the largest change of a cap per decision, as a fraction
  std::chrono::seconds relax_after{5};  // below target/2 this long before a rise
  std::chrono::seconds forget_bad{900};  // how long a level that was too much is remembered
  uint64_t floor_bytes_sec = 1 << 20;
  uint64_t floor_iops_sec = 20;
};

// One guest, as measured over the last second.
struct GuestIo {
  std::string name;
  double rate[4] = {0, 0, 0, 0};  // read bytes/s, write bytes/s, read iops, write iops
  IoLimits ceiling;               // the static policy; 0 fields: unlimited
  // Its own I/O pressure over the last second ("some" of its cgroup's io.pressure, percent),
  // when [throttle] domain_pressure names the file: what being cut costs it, said in reasons.
  std::optional<double> own_pressure;
};

struct ThrottleChange {
  std::string name;
  IoLimits limits;  // what now applies: the ceiling tightened by the adaptive caps
  std::string reason;
};

class ThrottleController {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ThrottleController(ControllerParams params = {}) : params_(params) {}
  void set_params(const ControllerParams& p) { params_ = p; }

  // One decision. `pressure`: the host's I/O pressure (some, percent) over the last second.
  // Guests missing from `guests` are forgotten (they stopped). Returns the guests whose
  // applied limits change, with the reason.
  std::vector<ThrottleChange> step(Clock::time_point now, double pressure, const std::vector<GuestIo>& guests);

  // What applies to a guest now: its ceiling tightened by its adaptive caps.
  IoLimits limits(const GuestIo& g) const;
  // The adaptive caps alone (0: none), for the report and tests.
  IoLimits caps(const std::string& name) const;
  // Whether the guest is capped and every cap it has is at its floor: cutting can do no more.
  bool at_floor(const std::string& name) const;
  // Why a guest's limits are what they are now, in a line for the report: "static policy",
  // "adaptive: host io pressure 23.0% over target 10.0%", ...; `pressure` as in step(), none
  // when it could not be read.
  std::string explain(const GuestIo& g, std::optional<double> pressure) const;

 private:
  struct Guest {
    IoLimits cap;     // 0 fields: not capped
    IoLimits origin;  // the rate when first capped, the level a rise returns to
    // A cap that brought the pressure back soon after a rise: rises stop short of it (they
    // halve the distance instead) until it is `forget_bad` old.
    IoLimits bad;
    Clock::time_point bad_at{};
  };
  uint64_t floor(int field) const { return field < 2 ? params_.floor_bytes_sec : params_.floor_iops_sec; }
  bool cut(Clock::time_point now, const std::vector<GuestIo>& guests, std::map<std::string, std::string>& why);
  void relax(Clock::time_point now, std::map<std::string, std::string>& why);

  ControllerParams params_;
  std::map<std::string, Guest> guests_;
  Clock::time_point last_cut_{};
  Clock::time_point last_rise_{};  // rises are for all capped guests at once: equal caps stay equal
  int patience_ = 1;               // multiplier of relax_after, doubled by a cut soon after a rise
  Clock::time_point calm_since_{};
  bool calm_ = false;
};

}  // namespace smartvm::nodeld
