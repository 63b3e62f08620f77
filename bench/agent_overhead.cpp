// bench_agent_overhead: smartvm-agent against a reference shell agent (mount, su, run,
// echo $? > file, sync, umount) and against the job started directly, interleaved run by run,
// on a quiet machine and again while dd writes the same disk (oflag=direct).
//
// The repository is a filesystem of its own, as a guest's is (NFS, 9p, virtiofs): ext4 on a
// loop device over a file in /tmp, on the machine's disk, bind-mounted by both agents. (A bind
// of a directory of / would make a syncfs of the repository a sync of the whole machine's
// disk, with whatever everybody else on it has written.)
//
// Measured per run: start -> job exec (the agent's setup), job exit -> agent exit (the status
// durable, the repository unmounted), the CPU of the whole run (rusage of the process and of
// everything it waited for: the job, mount helpers), and the agent's own peak RSS. Prints one
// table per load with medians, 90th percentiles and the ratio reference / smartvm.
// Usage (as root): bench_agent_overhead [RUNS]
#include "disk_writer.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

double ms(const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3; }

struct Sample {
  double to_exec_ms, after_exit_ms, cpu_ms;
};

// Runs argv to its end; returns its rusage and the monotonic time at its start and end.
// With `hwm_kib`, samples the process's own VmHWM (peak RSS, itself only) until it exits.
// With `stdout_path`, the program's stdout goes to that file.
bool run(const std::vector<std::string>& argv, long long& start, long long& end, rusage& ru, long* hwm_kib = nullptr,
         const char* stdout_path = nullptr) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  start = now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr) || (stdout_path && !freopen(stdout_path, "w", stdout))) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  int st = 0;
  if (hwm_kib) {
    *hwm_kib = 0;
    while (wait4(pid, &st, WNOHANG, &ru) == 0) {
      std::ifstream in("/proc/" + std::to_string(pid) + "/status");
      std::string line;
      while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) *hwm_kib = std::max(*hwm_kib, std::atol(line.c_str() + 6));
      usleep(2000);
    }
  } else {
    wait4(pid, &st, 0, &ru);
  }
  end = now_ns();
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool run_quietly(const std::vector<std::string>& argv) {
  long long a = 0, b = 0;
  rusage ru{};
  return run(argv, a, b, ru);
}

long long read_stamp(const fs::path& out, const std::string& key) {
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  return -1;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

std::string fmt(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Tool {
  const char* name;
  std::vector<std::string> argv;
  std::vector<Sample> samples;
};

// `runs` interleaved rounds of every tool (and one to warm the caches first).
bool measure(std::vector<Tool>& tools, const fs::path& src, int runs) {
  for (Tool& t : tools) t.samples.clear();
  for (int i = -1; i < runs; ++i) {
    for (Tool& t : tools) {
      fs::remove_all(src / "job");
      fs::path out = src / "job/stdout.log";
      bool direct = std::string(t.name) == "direct exec";
      if (direct) fs::create_directories(src / "job");
      long long start = 0, end = 0;
      rusage ru{};
      if (!run(t.argv, start, end, ru, nullptr, direct ? out.c_str() : nullptr)) {
        std::fprintf(stderr, "bench_agent_overhead: %s failed\n", t.name);
        return false;
      }
      long long exec = read_stamp(out, "exec"), exit = read_stamp(out, "exit");
      if (i >= 0) t.samples.push_back({(exec - start) / 1e6, (end - exit) / 1e6, ms(ru.ru_utime) + ms(ru.ru_stime)});
    }
  }
  return true;
}

struct Row {
  std::string name;
  double a, b, direct;
  int decimals;
};

void print_table(const std::string& title, const std::vector<Row>& rows) {
  std::printf("%s\n\n", title.c_str());
  std::printf("| %-50s | %13s | %14s | %11s | %8s | %14s |\n", "metric", "smartvm-agent", "reference (sh)", "direct exec",
              "ref/ours", "ours - direct");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(52, '-').c_str(), std::string(15, '-').c_str(),
              std::string(16, '-').c_str(), std::string(13, '-').c_str(), std::string(10, '-').c_str(),
              std::string(16, '-').c_str());
  for (const Row& r : rows) {
    bool timed = r.direct > 0;
    std::printf("| %-50s | %13s | %14s | %11s | %8s | %14s |\n", r.name.c_str(), fmt(r.a, r.decimals).c_str(),
                fmt(r.b, r.decimals).c_str(), timed ? fmt(r.direct, r.decimals).c_str() : "-",
                fmt(r.b / r.a, 2).c_str(), timed ? fmt(r.a - r.direct, r.decimals).c_str() : "-");
  }
  std::printf("\n");
}

std::vector<Row> timing_rows(const std::vector<Tool>& tools) {
  std::vector<Row> rows;
  auto add = [&](const std::string& name, double Sample::*field, double p) {
    double v[3];
    for (size_t i = 0; i < 3; ++i) {
      std::vector<double> column;
      for (const Sample& s : tools[i].samples) column.push_back(s.*field);
      v[i] = percentile(column, p);
    }
    rows.push_back({name, v[0], v[1], v[2], 2});
  };
  add("start -> job exec, median (ms)", &Sample::to_exec_ms, 0.5);
  add("start -> job exec, p90 (ms)", &Sample::to_exec_ms, 0.9);
  add("job exit -> status durable + unmounted, median (ms)", &Sample::after_exit_ms, 0.5);
  add("job exit -> status durable + unmounted, p90 (ms)", &Sample::after_exit_ms, 0.9);
  add("CPU per run, user + system, median (ms)", &Sample::cpu_ms, 0.5);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 30;
  if (geteuid() != 0) {
    std::fprintf(stderr, "bench_agent_overhead: run as root (it mounts)\n");
    return 1;
  }
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string agent = (self.parent_path() / "agent/smartvm-agent").string();
  std::string stamp = (self / "bench_stamp").string();
  std::string reference = fs::path(SMARTVM_SOURCE_DIR) / "bench/reference-agent.sh";

  // Every mount of this benchmark stays in its own namespace and dies with it.
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("bench_agent_overhead: private mount namespace");
    return 1;
  }
  char tmpl[] = "/tmp/smartvm-bench.XXXXXX";
  fs::path tmp = mkdtemp(tmpl);
  chmod(tmp.c_str(), 0755);
  fs::path src = tmp / "repo", mnt = tmp / "mnt", ctx = tmp / "ctx", image = tmp / "repo.img";
  for (const auto& d : {src, mnt, ctx}) fs::create_directories(d);
  std::ofstream(image).close();
  fs::resize_file(image, 64 << 20);
  if (!run_quietly({"/sbin/mkfs.ext4", "-q", "-F", image.string()}) ||
      !run_quietly({"/bin/mount", "-o", "loop", image.string(), src.string()})) {
    std::fprintf(stderr, "bench_agent_overhead: cannot make the repository (mkfs.ext4, mount -o loop)\n");
    fs::remove_all(tmp);
    return 1;
  }
  chmod(src.c_str(), 01777);
  auto write_context = [&](const fs::path& dir, const std::string& command, const std::string& args) {
    fs::create_directories(dir);
    std::ofstream(dir / "appliance.ini") << "[job]\ncommand = " << command << "\nargs = " << args
                                         << "\nuser = nobody\nworkdir = job\n[repository]\ntype = bind\nsource = "
                                         << src.string() << "\nmountpoint = " << mnt.string()
                                         << "\n[status]\nheartbeat = 0\n[power]\naction = none\n";
  };
  write_context(ctx, stamp, "");
  write_context(tmp / "ctx-sleep", "/bin/sleep", "0.3");

  std::vector<Tool> tools = {
      {"smartvm-agent", {agent, "--context", ctx.string(), "--power", "none"}, {}},
      {"reference (sh)", {reference, src.string(), mnt.string(), stamp}, {}},
      // The floor on this machine: the job started directly, no agent in between.
      {"direct exec", {stamp}, {}},
  };
  auto finish = [&](int code) {
    umount2(src.c_str(), MNT_DETACH);  // the loop device goes with its last mount
    fs::remove_all(tmp);
    return code;
  };

  if (!measure(tools, src, runs)) return finish(1);
  std::vector<Row> quiet = timing_rows(tools);
  // Each agent's own peak RSS (VmHWM of the agent process alone), with a job that sleeps.
  long hwm_agent = 0, hwm_reference = 0;
  {
    long long a = 0, b = 0;
    rusage ru{};
    fs::remove_all(src / "job");
    run({agent, "--context", (tmp / "ctx-sleep").string(), "--power", "none"}, a, b, ru, &hwm_agent);
    fs::remove_all(src / "job");
    run({reference, src.string(), mnt.string(), "/bin/sleep 0.3"}, a, b, ru, &hwm_reference);
  }
  quiet.push_back({"own peak RSS, VmHWM of the agent process (KiB)", static_cast<double>(hwm_agent),
                   static_cast<double>(hwm_reference), 0, 0});

  std::vector<Row> loaded;
  {
    smartvm::bench::DiskWriter writer(tmp.string());
    sleep(2);  // the writer's queue fills
    bool ok = writer.running() && measure(tools, src, runs);
    if (!ok) {
      std::fprintf(stderr, "bench_agent_overhead: the loaded round failed (is dd writing?)\n");
      return finish(1);
    }
    loaded = timing_rows(tools);
  }

  std::string setup = ", repository: ext4 on a loop device over a file on the machine's disk, " + std::to_string(runs) +
                      " runs each";
  print_table("Quiet machine" + setup, quiet);
  print_table("While dd writes the same disk (oflag=direct, 1 MiB blocks)" + setup, loaded);
  std::printf("\"direct exec\" starts the job with nothing in between (fork and exec of a static program):\n"
              "the floor on this machine. \"ours - direct\" is the agent's own overhead. CPU is the rusage of\n"
              "the process and of everything it waited for (the job, mount and su for the reference).\n");
  return finish(0);
}
