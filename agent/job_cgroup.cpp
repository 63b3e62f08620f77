#include "job_cgroup.hpp"

#include "parse_number.hpp"
#include "small_file.hpp"
#include "split_words.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace smartvm::agent {

namespace {

std::string read_text(const std::string& path) {
  auto r = read_small_file(path, 1 << 20);
  return r ? *r : std::string();
}

// The value of `key` in a flat-keyed cgroup file such as cpu.stat ("usage_usec 123").
std::optional<uint64_t> keyed_value(const std::string& text, std::string_view key) {
  std::vector<std::string_view> w = split_words(text);
  for (size_t i = 0; i + 1 < w.size(); i += 2)
    if (w[i] == key) return parse_integer<uint64_t>(w[i + 1]);
  return std::nullopt;
}

// The agent's own cgroup in the unified hierarchy: the "0::/path" line of /proc/self/cgroup.
std::string own_cgroup() {
  std::string text = read_text("/proc/self/cgroup");  // held: the words point into it
  for (std::string_view line : split_words(text))
    if (line.starts_with("0::")) return std::string(line.substr(3));
  return {};
}

// Which of the controllers the job's cgroup should have `dir` offers but does not yet enable
// for its children.
std::vector<std::string> controllers_to_enable(const std::string& dir) {
  std::string offered = read_text(dir + "/cgroup.controllers");
  std::string enabled = read_text(dir + "/cgroup.subtree_control");
  std::vector<std::string_view> on = split_words(enabled);
  std::vector<std::string> out;
  for (std::string_view c : split_words(offered))
    if ((c == "memory" || c == "pids" || c == "cpu" || c == "io") && std::find(on.begin(), on.end(), c) == on.end())
      out.emplace_back(c);
  return out;
}

}  // namespace

std::string find_unified_mount() {
  libmnt_table* tb = mnt_new_table_from_file("/proc/self/mountinfo");
  if (!tb) return {};
  std::string found;
  libmnt_iter* it = mnt_new_iter(MNT_ITER_FORWARD);
  libmnt_fs* fs = nullptr;
  while (mnt_table_next_fs(tb, it, &fs) == 0) {
    const char* type = mnt_fs_get_fstype(fs);
    if (type && std::string_view(type) == "cgroup2") {
      found = mnt_fs_get_target(fs);
      break;
    }
  }
  mnt_free_iter(it);
  mnt_unref_table(tb);
  return found;
}

Result<JobCgroup> JobCgroup::create(const std::string& name, std::string unified_root) {
  if (unified_root.empty()) unified_root = find_unified_mount();
  if (unified_root.empty()) return make_error("no cgroup2 hierarchy is mounted");
  std::string own = own_cgroup();
  if (own.empty()) return make_error("the agent's cgroup v2 path is unknown");
  std::string parent = unified_root + (own == "/" ? "" : own);

  // A non-root cgroup with processes in it cannot enable controllers for its children: move
  // the agent into a leaf of its own first (systemd's delegation model), but only when there
  // is a controller to enable (see job_cgroup.hpp: the move costs a grace period).
  std::vector<std::string> controllers = controllers_to_enable(parent);
  if (own != "/" && !controllers.empty()) {
    std::string leaf = parent + "/supervisor";
    if (mkdir(leaf.c_str(), 0755) == 0 || errno == EEXIST) (void)write_kernel_file(leaf + "/cgroup.procs", "0");
  }
  for (const std::string& c : controllers) (void)write_kernel_file(parent + "/cgroup.subtree_control", "+" + c);

  JobCgroup cg;
  cg.path_ = parent + "/" + name;
  if (mkdir(cg.path_.c_str(), 0755) != 0) return os_error("create cgroup " + cg.path_);
  cg.dir_.reset(open(cg.path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  cg.procs_.reset(open((cg.path_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!cg.dir_.valid() || !cg.procs_.valid()) {
    Error e = os_error("open " + cg.path_ + (cg.dir_.valid() ? "/cgroup.procs" : ""));
    rmdir(cg.path_.c_str());
    cg.path_.clear();
    return e;
  }
  return cg;
}

JobCgroup JobCgroup::observe(std::string path) {
  JobCgroup cg;
  cg.path_ = std::move(path);
  cg.owned_ = false;
  return cg;
}

JobCgroup::~JobCgroup() {
  if (path_.empty() || !owned_) return;
  dir_.reset();
  procs_.reset();
  // The last exiting process leaves the cgroup a moment after it is reaped.
  for (int i = 0; i < 50 && rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::vector<pid_t> JobCgroup::pids() const {
  std::vector<pid_t> out;
  std::string procs = read_text(path_ + "/cgroup.procs");
  for (std::string_view w : split_words(procs))
    if (auto pid = parse_integer<pid_t>(w)) out.push_back(*pid);
  return out;
}

void JobCgroup::signal_all(int sig) const {
  if (sig == SIGKILL && write_kernel_file(path_ + "/cgroup.kill", "1")) return;
  for (pid_t p : pids()) kill(p, sig);
}

JobCgroup::Usage JobCgroup::usage() const {
  Usage u;
  std::string cpu = read_text(path_ + "/cpu.stat");
  u.user_seconds = static_cast<double>(keyed_value(cpu, "user_usec").value_or(0)) / 1e6;
  u.system_seconds = static_cast<double>(keyed_value(cpu, "system_usec").value_or(0)) / 1e6;
  std::string peak = read_text(path_ + "/memory.peak");
  if (std::vector<std::string_view> w = split_words(peak); !w.empty())
    if (auto bytes = parse_integer<uint64_t>(w[0])) u.memory_peak_kib = *bytes / 1024;
  u.oom_kills = keyed_value(read_text(path_ + "/memory.events"), "oom_kill").value_or(0);
  return u;
}

}  // namespace smartvm::agent
