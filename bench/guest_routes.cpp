// bench_guest_routes: nodeld's guest router against two references making the same state for
// GUESTS guests: on each guest interface the host's IPoIB address as a /32, the link up, proxy
// ARP on, rp_filter strict, no proxy delay, and a /32 route to the guest with that source.
// - what a sysadmin would write: one `ip -batch` process (address, link, route per guest) and
//   one `sysctl -p` process (the per-interface settings);
// - the vif-route way: a shell running `ip` for each command, one process each.
// Runs in a network namespace of its own (root), with veth pairs standing for the interfaces;
// each run starts from the same state (links down, no address, no route, the kernel's default
// settings). Wall time and CPU (user + system from rusage: the bench's own for nodeld, wait4's
// of the process and what it waited for for the references); medians of RUNS runs, on a quiet
// machine and again while dd oflag=direct rewrites a file on the disk under /var/tmp.
// Usage: bench_guest_routes [GUESTS] [RUNS] [LOOP_RUNS]
#include "bench_numbers.hpp"
#include "disk_writer.hpp"
#include "guest_router.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace smartvm::nodeld;
using smartvm::bench::median;
namespace fs = std::filesystem;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_ms(const rusage& u) {
  return (double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

struct Cost {
  double wall = 0, cpu = 0;
};

std::string guest_address(int i) { return "10.40." + std::to_string(i / 250 + 1) + "." + std::to_string(i % 250 + 1); }
std::string vif(int i) { return "vif" + std::to_string(i) + ".0"; }

void must(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "bench_guest_routes: %s failed\n", command.c_str());
    std::exit(1);
  }
}

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
}

// `argv` run to its end: its wall time and the CPU of it and everything it waited for.
Cost run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  double t0 = now_ms();
  pid_t pid = fork();
  if (pid == 0) {
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage u{};
  if (pid < 0 || wait4(pid, &status, 0, &u) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_guest_routes: %s failed\n", argv.back().c_str());
    std::exit(1);
  }
  return {now_ms() - t0, cpu_ms(u)};
}

class Lab {
 public:
  Lab(const fs::path& dir, int guests) : dir_(dir), guests_(guests) {
    std::string links = "link add ib0 type veth peer name ibpeer\naddr add 10.40.0.1/16 dev ib0\nlink set ib0 up\n"
                        "link set ibpeer up\n";
    for (int i = 0; i < guests; ++i) links += "link add " + vif(i) + " type veth peer name q" + std::to_string(i) + "\n";
    write(dir / "links.batch", links);
    must("ip -batch " + (dir / "links.batch").string());
    // What a new interface starts with, to go back to before each run.
    for (const char* key : {"conf/vif0.0/rp_filter", "conf/vif0.0/proxy_arp", "neigh/vif0.0/proxy_delay"}) {
      std::ifstream in("/proc/sys/net/ipv4/" + std::string(key));
      std::string value;
      in >> value;
      defaults_.push_back(value);
    }
    std::string reset, ip, settings = "net/ipv4/ip_forward = 1\nnet/ipv4/conf/ib0/proxy_arp = 1\nnet/ipv4/neigh/ib0/proxy_delay = 0\n";
    std::string loop = "set -e\necho 1 > /proc/sys/net/ipv4/ip_forward\necho 1 > /proc/sys/net/ipv4/conf/ib0/proxy_arp\n"
                       "echo 0 > /proc/sys/net/ipv4/neigh/ib0/proxy_delay\n";
    std::string restore;
    for (int i = 0; i < guests; ++i) {
      std::string v = vif(i), a = guest_address(i);
      // Taking the link down removes the routes through it.
      reset += "addr flush dev " + v + "\nlink set " + v + " down\n";
      ip += "addr add 10.40.0.1/32 dev " + v + "\nlink set " + v + " up\nroute add " + a + " dev " + v + " src 10.40.0.1\n";
      settings += "net/ipv4/conf/" + v + "/rp_filter = 1\nnet/ipv4/conf/" + v + "/proxy_arp = 1\nnet/ipv4/neigh/" + v +
                  "/proxy_delay = 0\n";
      restore += "net/ipv4/conf/" + v + "/rp_filter = " + defaults_[0] + "\nnet/ipv4/conf/" + v + "/proxy_arp = " +
                 defaults_[1] + "\nnet/ipv4/neigh/" + v + "/proxy_delay = " + defaults_[2] + "\n";
      loop += "ip addr add 10.40.0.1/32 dev " + v + "\nip link set " + v + " up\necho 1 > /proc/sys/net/ipv4/conf/" + v +
              "/rp_filter\necho 1 > /proc/sys/net/ipv4/conf/" + v + "/proxy_arp\necho 0 > /proc/sys/net/ipv4/neigh/" + v +
              "/proxy_delay\nip route add " + a + " dev " + v + " src 10.40.0.1\n";
    }
    write(dir / "reset.batch", reset);
    write(dir / "restore.conf", restore);
    write(dir / "guests.batch", ip);
    write(dir / "guests.conf", settings);
    write(dir / "vif-route.sh", loop);
  }
  ~Lab() {
    std::string del = "link del ib0\n";
    for (int i = 0; i < guests_; ++i) del += "link del " + vif(i) + "\n";
    write(dir_ / "del.batch", del);
    must("ip -batch " + (dir_ / "del.batch").string());
  }

  // Back to no address, links down, no route, defaults; not timed.
  void reset() {
    must("ip -batch " + (dir_ / "reset.batch").string() + " && sysctl -q -p " + (dir_ / "restore.conf").string());
  }

  Cost ip_batch() {
    Cost ip = run({"/sbin/ip", "-batch", (dir_ / "guests.batch").string()});
    Cost sysctl = run({"/sbin/sysctl", "-q", "-p", (dir_ / "guests.conf").string()});
    return {ip.wall + sysctl.wall, ip.cpu + sysctl.cpu};
  }
  Cost loop() { return run({"/bin/sh", (dir_ / "vif-route.sh").string()}); }

  // Our routes in the main table now.
  size_t routed() {
    auto nl = Netlink::open();
    if (!nl) return 0;
    auto routes = nl->routes();
    if (!routes) return 0;
    return size_t(std::count_if(routes->begin(), routes->end(), [](const Route& r) { return r.prefix == 32; }));
  }

 private:
  fs::path dir_;
  int guests_;
  std::vector<std::string> defaults_;
};

// nodeld's reconcile from nothing, and again with nothing to change (a restart), in process.
std::pair<Cost, Cost> nodeld(const RoutingInput& in, int guests) {
  auto nl = Netlink::open();
  if (!nl) std::exit(1);
  SystemHostNet host(std::move(*nl));
  GuestRouter router;
  Cost c[2];
  for (Cost& cost : c) {
    rusage u0{}, u1{};
    getrusage(RUSAGE_SELF, &u0);
    double t0 = now_ms();
    auto st = router.reconcile(host, in);
    cost.wall = now_ms() - t0;
    getrusage(RUSAGE_SELF, &u1);
    cost.cpu = cpu_ms(u1) - cpu_ms(u0);
    if (!st || st->routes != size_t(guests) || !st->warnings.empty()) {
      std::fprintf(stderr, "bench_guest_routes: reconcile did not make %d routes\n", guests);
      std::exit(1);
    }
  }
  return {c[0], c[1]};
}

struct Series {
  std::vector<double> wall, cpu;
  void add(Cost c) {
    wall.push_back(c.wall);
    cpu.push_back(c.cpu);
  }
  std::string text() const {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.1f [%.1f-%.1f] | %.1f", median(wall), *std::min_element(wall.begin(), wall.end()),
                  *std::max_element(wall.begin(), wall.end()), median(cpu));
    return buf;
  }
};

}  // namespace

int main(int argc, char** argv) {
  int guests = argc > 1 ? std::atoi(argv[1]) : 1000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  // The loop takes a minute a run: fewer of them.
  int loop_runs = argc > 3 ? std::atoi(argv[3]) : std::min(runs, 3);
  if (unshare(CLONE_NEWNET) != 0) {
    std::perror("bench_guest_routes: unshare(CLONE_NEWNET) (run as root)");
    return 1;
  }
  char tmpl[] = "/var/tmp/smartvm-bench-routes.XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  RoutingInput in;
  in.guest_patterns = {"vif*"};
  for (int i = 0; i < guests; ++i) {
    uint32_t a = 0;
    parse_ipv4(guest_address(i), a);
    in.guest_addresses[vif(i)].push_back(a);
  }

  std::printf("| %d guests, median of %d (loop: %d) | load | wall ms [min-max] | CPU ms |\n|---|---|---:|---:|\n", guests,
              runs, loop_runs);
  {
    Lab lab(dir, guests);
    for (bool loaded : {false, true}) {
      std::optional<smartvm::bench::DiskWriter> writer;
      if (loaded) writer.emplace(dir.string());
      Series ours, again, ip, loop;
      for (int r = 0; r < runs; ++r) {
        lab.reset();
        auto [first, second] = nodeld(in, guests);
        ours.add(first);
        again.add(second);
        lab.reset();
        ip.add(lab.ip_batch());
        if (lab.routed() != size_t(guests)) {
          std::fprintf(stderr, "bench_guest_routes: ip -batch did not make %d routes\n", guests);
          return 1;
        }
        if (r < loop_runs) {
          lab.reset();
          loop.add(lab.loop());
        }
      }
      if (loaded && !writer->running()) {
        std::fprintf(stderr, "bench_guest_routes: the disk writer stopped\n");
        return 1;
      }
      const char* load = loaded ? "disk writer" : "quiet";
      std::printf("| nodeld reconcile, from nothing | %s | %s |\n", load, ours.text().c_str());
      std::printf("| nodeld reconcile, nothing to change (restart) | %s | %s |\n", load, again.text().c_str());
      std::printf("| `ip -batch` + `sysctl -p` | %s | %s |\n", load, ip.text().c_str());
      if (loop_runs > 0)
        std::printf("| vif-route-style loop, a process per command | %s | %s |\n", load, loop.text().c_str());
      std::printf("| `ip -batch` / nodeld | %s | %.1fx | %.1fx |\n", load, median(ip.wall) / median(ours.wall),
                  median(ip.cpu) / median(ours.cpu));
      if (loop_runs > 0)
        std::printf("| loop / nodeld | %s | %.0fx | %.0fx |\n", load, median(loop.wall) / median(ours.wall),
                  median(loop.cpu) / median(ours.cpu));
      std::fflush(stdout);
    }
  }
  fs::remove_all(dir);
  return 0;
}
