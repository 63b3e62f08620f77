// Guest disk I/O throttling (nodeld(8), [throttle]): applies each running guest's static
// limits when nodeld first sees it (at start, and when libvirt starts a domain), and in
// adaptive mode tightens and relaxes them once a second through ThrottleController so that
// the host's own I/O stays responsive. Every libvirt call and cgroup write happens on a worker
// thread of its own, so a hanging libvirtd stalls neither the reports nor the routing.
//
// Limits somebody else set (virsh blkdeviotune, a provisioning tool) are left alone unless
// override_foreign_limits is set: nodeld records what it applied in the domain's metadata, so
// it knows its own limits again after a restart.
#pragma once

#include "host_stats.hpp"
#include "libvirt_block_tune.hpp"
#include "log.hpp"
#include "snapshot.hpp"
#include "throttle_policy.hpp"
#include "source_worker.hpp"
#include "throttle_controller.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace smartvm::nodeld {

// What one tick needs of the configuration (a copy: the worker never sees a reload half-done).
struct ThrottleSettings {
  bool enabled = true;
  ThrottleMode mode = ThrottleMode::adaptive;
  IoLimits defaults;
  std::vector<ThrottleOverride> sections;
  ThrottleBackendKind backend = ThrottleBackendKind::libvirt;
  std::string cgroup;
  ControllerParams params;
  bool override_foreign = false;
  std::string proc_root = "/proc";
  std::string pressure = "/proc/pressure/io";  // the PSI file whose "some" is the host's I/O pressure
  std::string domain_pressure;                 // a guest's own io.pressure (%n %u %i), "" none
  std::string sysfs_root = "/sys";
  std::chrono::seconds interval{10};  // static mode ticks this often (and on domain starts)
};

// What the throttle has to say (limits applied, foreign limits found, a tick that failed): the
// daemon logs it; the throttle itself never does.
struct ThrottleNote {
  log::Level level;
  std::string message;
};

class Throttler {
 public:
  using LibvirtFn = std::function<std::shared_ptr<LibvirtBlockTune>()>;
  using SayFn = LibvirtConnection::SayFn;
  // `say` runs on the loop of `io`, after each tick, with what the tick had to say.
  Throttler(boost::asio::io_context& io, LibvirtFn libvirt, SayFn say);
  ~Throttler();

  void configure(ThrottleSettings s);  // main loop; takes effect at the next tick
  void start();
  void stop();
  void kick();  // a domain started, or a pressure spike: tick now
  // The limits nodeld applied, by domain name (for the report and /metrics).
  std::map<std::string, IoLimits> applied() const;
  // Why each guest it handles has the limits it has (and whether adaptive caps are at their
  // floors), by domain name, as of the newest tick.
  std::map<std::string, DomainThrottleState> states() const;
  // The adaptive mode's target pressure (percent); none when the throttle is off or static.
  std::optional<double> adaptive_target() const;
  // Each guest's own I/O pressure, by domain name, when domain_pressure names its file.
  std::map<std::string, DomainIoPressure> guest_pressure() const;
  // What is wrong now, by subject ("throttle" while paused, "throttle: domain NAME"); a
  // subject that is well is absent. Said by the daemon, once each (log::Condition).
  std::map<std::string, std::string> problems() const;
  bool busy() const { return worker_.busy(); }

 private:
  struct Guest {
    IoLimits applied;
    bool applied_known = false;
    bool foreign = false;
    bool checked = false;  // whether the limits on it were compared with nodeld's record
    uint64_t counters[4] = {0, 0, 0, 0};
    std::chrono::steady_clock::time_point counted_at{};
    StallMeter stall;            // its own io.pressure
  };

  void schedule();
  void tick();
  void arm_trigger();
  void wait_trigger();
  // The worker's side.
  void work(const ThrottleSettings& s);
  void say(log::Level level, std::string message);  // worker: a note for after the tick
  std::optional<double> io_pressure(const ThrottleSettings& s);

  boost::asio::io_context& io_;
  LibvirtFn libvirt_;
  SayFn say_;
  ThrottleSettings settings_;
  boost::asio::steady_timer timer_;
  std::optional<boost::asio::posix::stream_descriptor> trigger_;
  boost::asio::steady_timer trigger_pause_;
  bool running_ = false;

  // Worker only.
  ThrottleController controller_;
  std::map<std::string, Guest> guests_;  // by "uuid/id"
  StallMeter host_stall_;
  std::vector<ThrottleNote> notes_;

  mutable std::mutex applied_mutex_;
  std::map<std::string, IoLimits> applied_;
  std::map<std::string, DomainIoPressure> guest_pressure_;
  std::map<std::string, DomainThrottleState> states_;
  std::map<std::string, std::string> problems_;

  SourceWorker worker_;  // last: its thread stops before the state above goes
};

}  // namespace smartvm::nodeld
