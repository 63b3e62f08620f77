#include "job_cgroup.hpp"

#include "small_file.hpp"

#include <fcntl.h>
#include <libmount/libmount.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace smartvm::agent {

// The white-space separated words of a cgroup or /proc file. (No iostreams in the agent:
// they would triple the size of its statically linked libstdc++.)
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = text.find_first_not_of(" \t\n", pos)) != std::string::npos) {
    size_t end = text.find_first_of(" \t\n", pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

namespace {

std::string read_text(const std::string& path) {
  auto r = read_small_file(path, 1 << 20);
  return r ? *r : std::string();
}

bool write_text(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// The value of `key` in a flat-keyed cgroup file such as cpu.stat ("usage_usec 123").
std::optional<uint64_t> keyed_value(const std::string& text, const std::string& key) {
  std::vector<std::string> w = words(text);
  for (size_t i = 0; i + 1 < w.size(); i += 2)
    if (w[i] == key) return std::strtoull(w[i + 1].c_str(), nullptr, 10);
  return std::nullopt;
}

// The agent's own cgroup in the unified hierarchy: the "0::/path" line of /proc/self/cgroup.
std::string own_cgroup() {
  for (const std::string& line : words(read_text("/proc/self/cgroup")))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return {};
}

// Enables in `dir`'s subtree_control whichever of the wanted controllers `dir` has.
void enable_controllers(const std::string& dir) {
  for (const std::string& c : words(read_text(dir + "/cgroup.controllers")))
    if (c == "memory" || c == "pids" || c == "cpu" || c == "io") write_text(dir + "/cgroup.subtree_control", "+" + c);
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
  // the agent into a leaf of its own first (systemd's delegation model).
  if (own != "/") {
    std::string leaf = parent + "/supervisor";
    if (mkdir(leaf.c_str(), 0755) == 0 || errno == EEXIST) write_text(leaf + "/cgroup.procs", "0");
  }
  enable_controllers(parent);

  JobCgroup cg;
  cg.path_ = parent + "/" + name;
  if (mkdir(cg.path_.c_str(), 0755) != 0) return os_error("create cgroup " + cg.path_);
  cg.procs_.reset(open((cg.path_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!cg.procs_.valid()) {
    Error e = os_error("open " + cg.path_ + "/cgroup.procs");
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
  procs_.reset();
  // The last exiting process leaves the cgroup a moment after it is reaped.
  for (int i = 0; i < 50 && rmdir(path_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::vector<pid_t> JobCgroup::pids() const {
  std::vector<pid_t> out;
  for (const std::string& w : words(read_text(path_ + "/cgroup.procs"))) out.push_back(std::atoi(w.c_str()));
  return out;
}

bool JobCgroup::populated() const { return keyed_value(read_text(path_ + "/cgroup.events"), "populated").value_or(0) != 0; }

void JobCgroup::signal_all(int sig) const {
  if (sig == SIGKILL && write_text(path_ + "/cgroup.kill", "1")) return;
  for (pid_t p : pids()) kill(p, sig);
}

JobCgroup::Usage JobCgroup::usage() const {
  Usage u;
  std::string cpu = read_text(path_ + "/cpu.stat");
  u.user_seconds = static_cast<double>(keyed_value(cpu, "user_usec").value_or(0)) / 1e6;
  u.system_seconds = static_cast<double>(keyed_value(cpu, "system_usec").value_or(0)) / 1e6;
  std::string peak = read_text(path_ + "/memory.peak");
  if (!peak.empty()) u.memory_peak_kib = std::strtoull(peak.c_str(), nullptr, 10) / 1024;
  u.oom_kills = keyed_value(read_text(path_ + "/memory.events"), "oom_kill").value_or(0);
  return u;
}

}  // namespace smartvm::agent
