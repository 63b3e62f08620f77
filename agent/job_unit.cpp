#include "job_unit.hpp"

#include "systemd_lazy.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

namespace smartvm::agent {
namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kService = "org.freedesktop.systemd1.Service";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";

// How long systemd may take to execute the job: Type=exec waits for the execve() only.
constexpr std::chrono::seconds kStartLimit{90};

}  // namespace

// What the signal callbacks write: on the heap, so that moving a JobUnit does not move it.
struct JobUnitEvents {
  std::string job;         // the start job's object path, once known
  std::string job_result;  // its JobRemoved result ("done", "failed", ...)
  bool changed = false;    // a PropertiesChanged of the unit arrived
};

namespace {

Error bus_error(const std::string& what, int r, const sd_bus_error* e) {
  std::string why = e && e->message ? e->message : e && e->name ? e->name : std::strerror(-r);
  return Error{what + ": " + why, std::error_code(-r, std::generic_category())};
}

// Collects the first failure of a chain of sd_bus_message_append* calls.
struct Appender {
  const systemd::Api& sd;
  sd_bus_message* m;
  int r = 0;

  template <typename... A>
  void add(const char* name, const char* type, A... value) {
    if (r >= 0) r = sd.bus_message_append(m, "(sv)", name, type, value...);
  }
  void add_strings(const char* name, const std::vector<std::string>& values) {
    open('r', "sv");
    append("s", name);
    open('v', "as");
    open('a', "s");
    for (const std::string& v : values) append("s", v.c_str());
    close();
    close();
    close();
  }
  void open(char type, const char* contents) {
    if (r >= 0) r = sd.bus_message_open_container(m, type, contents);
  }
  void close() {
    if (r >= 0) r = sd.bus_message_close_container(m);
  }
  template <typename... A>
  void append(const char* types, A... values) {
    if (r >= 0) r = sd.bus_message_append(m, types, values...);
  }
};

}  // namespace

std::string JobUnit::own_unit() {
  const systemd::Api* sd = systemd::api();
  char* unit = nullptr;
  if (!sd) return {};
  // A process of a user's session (a terminal under user@UID.service) is not a system service.
  if (sd->pid_get_user_unit(0, &unit) >= 0) {
    std::free(unit);
    return {};
  }
  if (sd->pid_get_unit(0, &unit) < 0 || !unit) return {};
  std::string out = unit;
  std::free(unit);
  return out;
}

bool JobUnit::available() {
  if (access("/run/systemd/system", F_OK) != 0) return false;  // not booted with systemd
  return own_unit().ends_with(".service");
}

Result<void> JobUnit::connect() {
  const systemd::Api* sd = systemd::api();
  bus_ = systemd::open_manager_bus(*sd);
  if (!bus_) return make_error("cannot connect to systemd (neither /run/systemd/private nor the system bus)");
  ++generation_;
  // Signals only reach subscribers; matched before the unit exists so that none is missed.
  // No sender in the match: on systemd's private socket there is none.
  if (auto sub = systemd::call_method(*sd, bus_, kSystemd, kManagerPath, kManager, "Subscribe", ""); !sub) {
    disconnect();
    return sub.error();
  }
  int r = sd->bus_match_signal(
      bus_, &changes_, nullptr, path_.c_str(), "org.freedesktop.DBus.Properties", "PropertiesChanged",
      [](sd_bus_message*, void* data, sd_bus_error*) {
        static_cast<JobUnitEvents*>(data)->changed = true;
        return 0;
      },
      events_.get());
  if (r < 0) {
    disconnect();
    return bus_error("match the unit's PropertiesChanged", r, nullptr);
  }
  return {};
}

void JobUnit::disconnect() {
  const systemd::Api* sd = systemd::api();
  if (changes_) sd->bus_slot_unref(changes_);
  changes_ = nullptr;
  if (bus_) sd->bus_flush_close_unref(bus_);
  bus_ = nullptr;
}

Result<JobUnit> JobUnit::start(const JobUnitSpec& spec) {
  const systemd::Api* sd = systemd::api();
  if (!sd) return make_error("libsystemd.so.0 is not installed");
  JobUnit u;
  u.name_ = spec.name;
  u.sink_ = spec.events;
  u.events_ = std::make_unique<JobUnitEvents>();
  char* path = nullptr;
  if (int r = sd->bus_path_encode("/org/freedesktop/systemd1/unit", spec.name.c_str(), &path); r < 0)
    return bus_error("encode the unit's object path", r, nullptr);
  u.path_ = path;
  std::free(path);
  if (auto c = u.connect(); !c) return c.error();

  JobUnitEvents* events = u.events_.get();
  sd_bus_slot* raw_slot = nullptr;
  int r = sd->bus_match_signal(
      u.bus_, &raw_slot, nullptr, kManagerPath, kManager, "JobRemoved",
      [](sd_bus_message* m, void* data, sd_bus_error*) {
        auto* ev = static_cast<JobUnitEvents*>(data);
        uint32_t id = 0;
        const char *job = nullptr, *unit = nullptr, *result = nullptr;
        if (systemd::api()->bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && job && ev->job == job)
          ev->job_result = result ? result : "";
        return 0;
      },
      events);
  if (r < 0) return bus_error("match systemd's JobRemoved", r, nullptr);
  // Only for the start: gone on every way out of here.
  std::unique_ptr<sd_bus_slot, sd_bus_slot* (*)(sd_bus_slot*)> jobs(raw_slot, sd->bus_slot_unref);

  sd_bus_message* m = nullptr;
  r = sd->bus_message_new_method_call(u.bus_, &m, kSystemd, kManagerPath, kManager, "StartTransientUnit");
  if (r < 0) return bus_error("StartTransientUnit", r, nullptr);
  std::vector<std::string> groups;
  for (gid_t g : spec.groups) groups.push_back(std::to_string(g));
  Appender a{*sd, m};
  a.append("ss", spec.name.c_str(), "fail");
  a.open('a', "(sv)");
  a.add("Description", "s", spec.description.c_str());
  a.add("Type", "s", "exec");
  // The unit outlives the job's main process (see job_unit.hpp), and any exit counts as a
  // clean one for systemd: the agent judges the exit code, systemd must not act on it.
  a.add("RemainAfterExit", "b", 1);
  a.open('r', "sv");
  a.append("s", "ExecStart");
  a.open('v', "a(sasb)");
  a.open('a', "(sasb)");
  a.open('r', "sasb");
  a.append("s", spec.argv.front().c_str());
  a.open('a', "s");
  for (const std::string& arg : spec.argv) a.append("s", arg.c_str());
  a.close();
  a.append("b", 1);  // ignore failure
  a.close();
  a.close();
  a.close();
  a.close();
  a.add("User", "s", std::to_string(spec.uid).c_str());
  a.add("Group", "s", std::to_string(spec.gid).c_str());
  a.add_strings("SupplementaryGroups", groups);
  a.add_strings("Environment", spec.env);
  a.add("WorkingDirectory", "s", spec.workdir.c_str());
  a.add("UMask", "u", uint32_t(spec.umask));
  a.add("NoNewPrivileges", "b", 1);
  a.add("StandardInputFileDescriptor", "h", spec.stdin_fd);
  a.add("StandardOutputFileDescriptor", "h", spec.stdout_fd);
  a.add("StandardErrorFileDescriptor", "h", spec.stderr_fd);
  a.add("KillMode", "s", "control-group");
  a.add("TimeoutStopUSec", "t", uint64_t(spec.kill_grace.count()) * 1000000);
  // An OOM kill is recorded by the agent; the job decides whether it goes on.
  a.add("OOMPolicy", "s", "continue");
  a.add("MemoryAccounting", "b", 1);
  a.add("CPUAccounting", "b", 1);
  // No AddRef: systemd tracks references by bus name, and the private socket has none. The
  // unit stays loaded while active, which RemainAfterExit makes it until the agent stops it.
  a.add("CollectMode", "s", "inactive-or-failed");
  if (!spec.stop_after.empty()) a.add_strings("Before", {spec.stop_after});
  a.close();
  a.append("a(sa(sv))", 0);
  if (a.r < 0) {
    sd->bus_message_unref(m);
    return bus_error("build the StartTransientUnit call", a.r, nullptr);
  }
  sd_bus_message* reply = nullptr;
  sd_bus_error err = SD_BUS_ERROR_NULL;
  r = sd->bus_call(u.bus_, m, 0, &err, &reply);
  sd->bus_message_unref(m);
  if (r < 0) {
    Error e = bus_error("systemd StartTransientUnit " + spec.name, r, &err);
    sd->bus_error_free(&err);
    return e;
  }
  const char* job = nullptr;
  if (sd->bus_message_read(reply, "o", &job) >= 0 && job) events->job = job;
  sd->bus_message_unref(reply);

  auto deadline = std::chrono::steady_clock::now() + kStartLimit;
  while (events->job_result.empty()) {
    r = sd->bus_process(u.bus_, nullptr);
    if (r < 0) break;
    if (r > 0) continue;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    sd->bus_wait(u.bus_, uint64_t(left.count()));
  }
  if (u.events_->job_result != "done") {
    std::string result = u.events_->job_result.empty() ? "no answer within " + std::to_string(kStartLimit.count()) + " s"
                                                               : u.events_->job_result;
    return make_error("systemd could not start " + spec.name + " (" + result + "; journalctl -u " + spec.name + " says why)");
  }
  if (auto pid = u.property<uint32_t>(kService, "ExecMainPID", 'u')) u.main_pid_ = pid_t(*pid);
  if (auto cg = u.property_string(kService, "ControlGroup")) u.cgroup_ = *cg;
  return u;
}

JobUnit::JobUnit(JobUnit&& o) noexcept
    : bus_(o.bus_), changes_(o.changes_), events_(std::move(o.events_)), name_(std::move(o.name_)),
      path_(std::move(o.path_)), cgroup_(std::move(o.cgroup_)),
      sink_(std::move(o.sink_)), main_pid_(o.main_pid_), generation_(o.generation_),
      exit_status_(o.exit_status_) {
  o.bus_ = nullptr;
  o.changes_ = nullptr;
}

JobUnit::~JobUnit() {
  if (!events_) return;  // moved from
  if (!bus_ && !connect()) return;
  // Nothing of the job is left by now (the runner waits for that); stopping the unit makes
  // sure, and "failed" units would otherwise stay listed.
  const systemd::Api& sd = *systemd::api();
  if (auto r = systemd::call_method(sd, bus_, kSystemd, kManagerPath, kManager, "StopUnit", "ss", name_.c_str(), "replace"); !r)
    tell(sink_, log::Level::debug, r.error().message);
  (void)systemd::call_method(sd, bus_, kSystemd, kManagerPath, kManager, "ResetFailedUnit", "s", name_.c_str());
  disconnect();
}

int JobUnit::fd() const { return bus_ ? systemd::api()->bus_get_fd(bus_) : -1; }

bool JobUnit::process() {
  if (!bus_) return bool(connect());  // lost before: a new connection may have missed changes
  const systemd::Api* sd = systemd::api();
  int r;
  while ((r = sd->bus_process(bus_, nullptr)) > 0) {
  }
  if (r < 0) {
    // systemd went away (daemon-reexec) or closed the connection: connect again and look.
    tell(sink_, log::Level::warning, "lost the connection to systemd while the job runs; reconnecting");
    disconnect();
    if (auto c = connect(); !c) {
      tell(sink_, log::Level::warning, c.error().message + "; trying again in a second");
      return false;
    }
    return true;
  }
  bool changed = events_->changed;
  events_->changed = false;
  return changed;
}

std::optional<int> JobUnit::main_exit_status() {
  if (exit_status_) return exit_status_;
  auto exited_at = property<uint64_t>(kService, "ExecMainExitTimestampMonotonic", 't');
  if (!exited_at) return std::nullopt;  // no answer (a connection going down): ask again later
  if (*exited_at == 0) {
    // Stopped from outside (systemctl stop) and already forgotten by systemd: the job is
    // over, its status lost with the unit. systemd stops a unit with SIGTERM.
    auto state = property_string(kUnit, "ActiveState");
    if (!state || (*state != "inactive" && *state != "failed")) return std::nullopt;
    tell(sink_, log::Level::warning, "the job's unit " + name_ + " is gone (stopped from outside?); its exit status is unknown, recorded as SIGTERM");
    exit_status_ = SIGTERM;
    return exit_status_;
  }
  auto code = property<int32_t>(kService, "ExecMainCode", 'i');
  auto status = property<int32_t>(kService, "ExecMainStatus", 'i');
  if (!code || !status) return std::nullopt;
  // siginfo's si_code as systemd records it: CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3.
  switch (*code) {
    case 1: exit_status_ = (*status & 0xff) << 8; break;
    case 2: exit_status_ = *status & 0x7f; break;
    case 3: exit_status_ = (*status & 0x7f) | 0x80; break;
    default: return std::nullopt;
  }
  return exit_status_;
}

Result<void> JobUnit::kill(int sig) {
  if (!bus_) return make_error("systemd KillUnit " + name_ + ": no connection to systemd");
  return systemd::call_method(*systemd::api(), bus_, kSystemd, kManagerPath, kManager, "KillUnit", "ssi", name_.c_str(), "all", sig);
}

Result<std::string> JobUnit::property_string(const char* iface, const char* name) {
  if (!bus_) return make_error("no connection to systemd");
  const systemd::Api* sd = systemd::api();
  sd_bus_error err = SD_BUS_ERROR_NULL;
  char* value = nullptr;
  int r = sd->bus_get_property_string(bus_, kSystemd, path_.c_str(), iface, name, &err, &value);
  if (r < 0) {
    Error e = bus_error(std::string("read ") + name + " of " + name_, r, &err);
    sd->bus_error_free(&err);
    return e;
  }
  std::string out = value ? value : "";
  std::free(value);
  return out;
}

template <typename T>
Result<T> JobUnit::property(const char* iface, const char* name, char type) {
  if (!bus_) return make_error("no connection to systemd");
  const systemd::Api* sd = systemd::api();
  sd_bus_error err = SD_BUS_ERROR_NULL;
  T value{};
  int r = sd->bus_get_property_trivial(bus_, kSystemd, path_.c_str(), iface, name, &err, type, &value);
  if (r < 0) {
    Error e = bus_error(std::string("read ") + name + " of " + name_, r, &err);
    sd->bus_error_free(&err);
    return e;
  }
  return value;
}

}  // namespace smartvm::agent
