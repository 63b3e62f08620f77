// bench_nodeld: what nodeld costs, side by side with the reference tools in one run.
//  1. One collection cycle over 10, 100 and 1000 domains of libvirt's test driver (in process):
//     nodeld's sources and rendering (one bulk virConnectGetAllDomainStats) against the
//     per-domain polling a script does (list, then virDomainGetInfo and virDomainGetState for
//     each domain). CPU and wall time per cycle, medians of 30.
//  2. A /metrics scrape of the real nodeld (100 domains) against Debian's
//     prometheus-node-exporter on the same host: wall time per scrape and the server's CPU time
//     per scrape (from /proc/PID/stat), medians of 200.
//  3. nodeld's resident memory (VmHWM) after those scrapes and 1000-domain cycles, next to the
//     floor of any libvirt client (bench_libvirt_floor: connect, one stats call, nothing else)
//     and node_exporter; with PSS, the share of shared pages that is fairly each process's.
//  4. A 1000-domain cycle of the real daemon (daemon_cycle.hpp): CPU per report of this build's
//     nodeld and, given --before, of another nodeld binary (main's), run for run alternately,
//     on a quiet machine and with a disk writer on the same disk; medians of 5 runs of 10
//     cycles, spread in brackets.
// Targets (issue 3): a 1000-domain cycle under 20 ms CPU; a scrape cheaper than node_exporter's;
// nodeld RSS under 12 MiB. Issue 16: the real daemon's 1000-domain cycle under 5 ms CPU.
// Usage: bench_nodeld [--before NODELD] [--daemon-cycle-only]
#include "daemon_cycle.hpp"
#include "disk_writer.hpp"
#include "libvirt_source.hpp"
#include "host_stats.hpp"
#include "metrics_text.hpp"
#include "report_json.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <libvirt/libvirt.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using namespace smartvm::nodeld;

namespace {

double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
double wall_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void write_node(const fs::path& p, int n) {
  std::ofstream out(p);
  out << "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>64</active><nodes>1</nodes><sockets>2</sockets>"
         "<cores>16</cores><threads>2</threads></cpu><memory>268435456</memory>\n";
  for (int i = 0; i < n; ++i)
    out << "<domain type='test'><name>job" << i << "</name><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>\n";
  out << "</node>\n";
}

struct CycleCost {
  double cpu = 0, wall = 0;
};

// nodeld's cycle: host stats, the bulk call, and both renderings (JSON report, metrics text).
CycleCost nodeld_cycle(const std::string& uri) {
  LibvirtSource source(uri, [](const DomainEvent&) {});
  HostStatsSource host("/proc");
  (void)source.collect();  // connect once, as the daemon does
  std::vector<double> cpu, wall;
  for (int i = 0; i < 30; ++i) {
    double c0 = cpu_ms(), w0 = wall_ms();
    Snapshot s;
    s.node = "bench";
    s.host = *host.collect();
    s.hypervisor = *source.collect();
    std::string report = report_text(s), metrics = metrics_text(s);
    cpu.push_back(cpu_ms() - c0);
    wall.push_back(wall_ms() - w0);
  }
  return {median(cpu), median(wall)};
}

// The reference: per-domain calls, as a polling script over virsh does (without virsh's own
// process start, which would only make the reference slower).
CycleCost per_domain_cycle(const std::string& uri) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  std::vector<double> cpu, wall;
  for (int i = 0; i < 30; ++i) {
    double c0 = cpu_ms(), w0 = wall_ms();
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn, &doms, 0);
    for (int d = 0; d < n; ++d) {
      virDomainInfo info{};
      virDomainGetInfo(doms[d], &info);
      int state = 0, reason = 0;
      virDomainGetState(doms[d], &state, &reason, 0);
      char uuid[VIR_UUID_STRING_BUFLEN];
      virDomainGetUUIDString(doms[d], uuid);
      virDomainFree(doms[d]);
    }
    free(doms);
    cpu.push_back(cpu_ms() - c0);
    wall.push_back(wall_ms() - w0);
  }
  virConnectClose(conn);
  return {median(cpu), median(wall)};
}

double proc_cpu_ms(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string f;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoul(f);
    if (i == 15) stime = std::stoul(f);
  }
  return double(utime + stime) * 1000.0 / double(sysconf(_SC_CLK_TCK));
}

// VmRSS and VmHWM, and what RSS is made of now: private (anonymous) pages and mapped files,
// most of them shared libraries whose pages every process using them shares (libvirtd,
// virsh); PSS divides each shared page among the processes that map it.
struct Memory {
  long rss = -1, hwm = -1, anon = -1, file = -1, pss = -1;
};
long field_kib(const std::string& file, const char* name) {
  std::ifstream in(file);
  size_t len = std::strlen(name);
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, len, name) == 0 && line.size() > len && line[len] == ':') return std::atol(line.c_str() + len + 1);
  return -1;
}
Memory memory_of(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  return Memory{field_kib(proc + "/status", "VmRSS"), field_kib(proc + "/status", "VmHWM"),
                field_kib(proc + "/status", "RssAnon"), field_kib(proc + "/status", "RssFile"),
                field_kib(proc + "/smaps_rollup", "Pss")};
}

pid_t start(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
}

bool wait_port(int port) {
  for (int i = 0; i < 500; ++i) {
    try {
      asio::io_context io;
      asio::ip::tcp::socket s(io);
      s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
      return true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return false;
}

struct ScrapeCost {
  double wall_ms = 0, server_cpu_ms = 0;
  size_t bytes = 0;
};

// `n` scrapes on fresh connections, as Prometheus makes them.
ScrapeCost scrape(int port, pid_t server, int n) {
  std::vector<double> wall;
  size_t bytes = 0;
  double c0 = proc_cpu_ms(server);
  for (int i = 0; i < n; ++i) {
    double w0 = wall_ms();
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    http::request<http::empty_body> req(http::verb::get, "/metrics", 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    bytes = res.body().size();
    wall.push_back(wall_ms() - w0);
  }
  return {median(wall), (proc_cpu_ms(server) - c0) / n, bytes};
}

int free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// Section 4: the real daemon's cycle, this build's nodeld beside `before` (if any).
void daemon_cycles(const fs::path& tmp, const std::string& nodeld, const std::string& before) {
  write_node(tmp / "cycle1000.xml", 1000);
  struct Row {
    std::string name, binary;
    std::vector<double> quiet, loaded;
  };
  std::vector<Row> rows;
  if (!before.empty()) rows.push_back({"before: " + before, before, {}, {}});
  rows.push_back({"this build", nodeld, {}, {}});
  smartvm::bench::ReportSink sink;
  for (bool loaded : {false, true}) {
    std::optional<smartvm::bench::DiskWriter> writer;
    if (loaded) writer.emplace(tmp.string());
    for (int run = 0; run < 5; ++run)
      for (Row& r : rows) {
        double ms = smartvm::bench::daemon_cycle_cpu_ms(r.binary, tmp / "cycle", tmp / "cycle1000.xml", sink);
        if (ms < 0) std::fprintf(stderr, "bench_nodeld: %s made no reports (log in %s)\n", r.binary.c_str(), (tmp / "cycle").c_str());
        (loaded ? r.loaded : r.quiet).push_back(ms);
      }
  }
  auto cell = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f [%.2f-%.2f]", v[v.size() / 2], v.front(), v.back());
    return std::string(buf);
  };
  std::printf("\n## A 1000-domain cycle of the real daemon (CPU ms per report, all threads; medians of 5 runs of 10 "
              "cycles, [min-max])\n\n");
  std::printf("| nodeld | quiet | disk writer on the same disk |\n|---|---:|---:|\n");
  for (const Row& r : rows) std::printf("| %s | %s | %s |\n", r.name.c_str(), cell(r.quiet).c_str(), cell(r.loaded).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string nodeld = (self.parent_path() / "nodeld/nodeld").string();
  std::string before;
  bool only_cycle = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--before" && i + 1 < argc) before = fs::absolute(argv[++i]).string();
    else if (a == "--daemon-cycle-only") only_cycle = true;
    else {
      std::fprintf(stderr, "usage: bench_nodeld [--before NODELD] [--daemon-cycle-only]\n");
      return 2;
    }
  }
  char tmpl[] = "/tmp/smartvm-bench-nodeld.XXXXXX";
  fs::path tmp = mkdtemp(tmpl);
  fs::create_directories(tmp / "jobs");
  if (only_cycle) {
    daemon_cycles(tmp, nodeld, before);
    fs::remove_all(tmp);
    return 0;
  }

  std::printf("## One collection cycle (libvirt test driver, in process; medians of 30)\n\n");
  std::printf("| domains | nodeld CPU ms | nodeld wall ms | per-domain CPU ms | per-domain wall ms | CPU ratio |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|\n");
  for (int n : {10, 100, 1000}) {
    fs::path xml = tmp / ("node" + std::to_string(n) + ".xml");
    write_node(xml, n);
    std::string uri = "test://" + xml.string();
    CycleCost ours = nodeld_cycle(uri), ref = per_domain_cycle(uri);
    std::printf("| %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", n, ours.cpu, ours.wall, ref.cpu, ref.wall, ref.cpu / ours.cpu);
  }

  // The daemons: nodeld on 100 domains, node_exporter with its default collectors.
  write_node(tmp / "node100.xml", 100);
  int nodeld_port = free_port(), exporter_port = free_port();
  std::ofstream(tmp / "nodeld.ini") << "[node]\nname = bench\nlibvirt_uri = test://" << (tmp / "node100.xml").string()
                                    << "\ninterval = 1\n[report]\nmetrics_listen = 127.0.0.1:" << nodeld_port
                                    << "\n[jobs]\nruntime_dir = " << (tmp / "jobs").string() << "\n";
  pid_t n_pid = start({nodeld, "--config", (tmp / "nodeld.ini").string()}, (tmp / "nodeld.log").string());
  pid_t e_pid = start({"/usr/bin/prometheus-node-exporter", "--web.listen-address=127.0.0.1:" + std::to_string(exporter_port)},
                      (tmp / "exporter.log").string());
  if (!wait_port(nodeld_port) || !wait_port(exporter_port)) {
    std::fprintf(stderr, "bench_nodeld: a daemon did not come up (logs in %s)\n", tmp.c_str());
    stop(n_pid);
    stop(e_pid);
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a cycle or two behind it
  (void)scrape(nodeld_port, n_pid, 5);
  (void)scrape(exporter_port, e_pid, 5);
  ScrapeCost ours = scrape(nodeld_port, n_pid, 200), ref = scrape(exporter_port, e_pid, 200);
  std::printf("\n## One /metrics scrape (fresh connection each; medians of 200; server CPU averaged)\n\n");
  std::printf("| server | wall ms | server CPU ms | bytes |\n|---|---:|---:|---:|\n");
  std::printf("| nodeld (100 domains) | %.3f | %.3f | %zu |\n", ours.wall_ms, ours.server_cpu_ms, ours.bytes);
  std::printf("| prometheus-node-exporter | %.3f | %.3f | %zu |\n", ref.wall_ms, ref.server_cpu_ms, ref.bytes);
  // CPU time comes in clock ticks (10 ms): nodeld's 200 scrapes may all fit below one.
  double tick_share = 1000.0 / double(sysconf(_SC_CLK_TCK)) / 200;
  if (ours.server_cpu_ms > 0)
    std::printf("| ratio node_exporter/nodeld | %.1f | %.1f | |\n", ref.wall_ms / ours.wall_ms,
                ref.server_cpu_ms / ours.server_cpu_ms);
  else
    std::printf("| ratio node_exporter/nodeld | %.1f | over %.0f (nodeld's 200 scrapes took less than one clock tick) | |\n",
                ref.wall_ms / ours.wall_ms, ref.server_cpu_ms / tick_share);
  Memory n_mem = memory_of(n_pid), e_mem = memory_of(e_pid);
  stop(n_pid);
  stop(e_pid);

  // nodeld on 1000 domains for a few cycles, for its peak RSS at that size.
  write_node(tmp / "node1000.xml", 1000);
  std::ofstream(tmp / "nodeld1000.ini") << "[node]\nname = bench\nlibvirt_uri = test://" << (tmp / "node1000.xml").string()
                                        << "\ninterval = 1\n[report]\nmetrics_listen = 127.0.0.1:" << nodeld_port
                                        << "\n[jobs]\nruntime_dir = " << (tmp / "jobs").string() << "\n";
  pid_t big = start({nodeld, "--config", (tmp / "nodeld1000.ini").string()}, (tmp / "nodeld1000.log").string());
  wait_port(nodeld_port);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  (void)scrape(nodeld_port, big, 20);
  Memory big_mem = memory_of(big);
  stop(big);

  // The floor: a program that does nothing but link libvirt, connect and fetch stats once.
  std::string floor_log = (tmp / "floor.log").string();
  pid_t floor_pid = start({SMARTVM_LIBVIRT_FLOOR_PATH, "test://" + (tmp / "node100.xml").string()}, floor_log);
  for (int i = 0; i < 100 && std::ifstream(floor_log).peek() == std::ifstream::traits_type::eof(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Memory floor_mem = memory_of(floor_pid);
  stop(floor_pid);

  std::printf("\n## Resident memory, KiB (now, peak; what RSS is made of: private pages, mapped files; PSS)\n\n");
  std::printf("| process | VmRSS | VmHWM | RssAnon | RssFile | Pss |\n|---|---:|---:|---:|---:|---:|\n");
  auto row = [](const char* what, const Memory& m) {
    std::printf("| %s | %ld | %ld | %ld | %ld | %ld |\n", what, m.rss, m.hwm, m.anon, m.file, m.pss);
  };
  row("nodeld, 100 domains, after 210 scrapes", n_mem);
  row("nodeld, 1000 domains, 4 cycles", big_mem);
  row("libvirt client floor (connect, one stats call), 100 domains", floor_mem);
  row("prometheus-node-exporter", e_mem);
  daemon_cycles(tmp, nodeld, before);
  fs::remove_all(tmp);
  return 0;
}
