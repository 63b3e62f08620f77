// bench_frontend_ingest: the real smartvm-frontend ingesting a cluster's reports (issue 16):
// 10,000 node names spread over 8 and then 64 keep-alive connections, each node's seq rising so
// that every report is stored, each body a report as nodeld renders it (report_text: 8 domains,
// all jobs, with their disks, NICs and throttle, the host, an RDMA port, routing, the repository
// probe). Each connection has one request in flight (as wrk, and as nodes do); per request the
// latency from send to the whole answer. The frontend's CPU per report from its threads'
// schedstat, the load generator's own from its thread's CPU clock, and the flushes from the
// frontend's /metrics.
//
// Two frontends, the same binary: the default one (every 200 durable: its database on the disk,
// the write-ahead log flushed before an answer) and a reference with its database on tmpfs,
// where a flush costs nothing: the upper bound for this machine's CPU. Both quiet and with a
// disk writer (dd oflag=direct) on the database's disk, and the disk's own floor: one 16 KiB
// overwrite and fdatasync, timed alone.
//
// The load generator shares the 2 cores with the frontend: one thread, epoll over raw sockets,
// requests rendered once per connection and patched in place (node number, seq), no allocation
// per request.
// Usage: bench_frontend_ingest [SECONDS_PER_ROUND] [NODES] [FRONTEND_BINARY]
// (FRONTEND_BINARY: another build to measure, such as a copy from before a change.)
#include "disk_writer.hpp"
#include "full_snapshot.hpp"
#include "report_json.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "bench-token-0123456789abcdef";
constexpr int kNodeDigits = 5;  // bench-node-00000 .. 99999
constexpr uint64_t kFirstSeq = 1000000000;  // ten digits for the whole run: patched in place

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A node as nodeld reports it (the tests' full snapshot: host, RDMA, routing, the repository
// probe), with 8 running job domains, each with a disk, a NIC, an address and limits.
std::string report_body(const std::string& time) {
  using namespace smartvm::nodeld;
  Snapshot s = smartvm::test::full_snapshot();
  s.node = "bench-node-" + std::string(kNodeDigits, '0');
  s.time = time;
  s.seq = kFirstSeq;
  s.stale.clear();
  s.host->cpu_cores = 64;
  s.hypervisor->cpu_cores = 64;
  s.hypervisor->memory_kib = 256ull << 20;
  DomainStats job = s.hypervisor->domains.front();
  s.hypervisor->domains.clear();
  for (int i = 0; i < 8; ++i) {
    DomainStats d = job;
    d.name = "smartvm-job-4711" + std::to_string(i);
    d.job->meta.job_id = "4711" + std::to_string(i);
    d.vcpus = 8;
    d.memory_kib = 16 << 20;
    s.hypervisor->domains.push_back(std::move(d));
  }
  return report_text(s);
}

// One connection's request, rendered once; the node's number and its seq are patched in place.
struct Request {
  std::string text;
  size_t node_at = 0, seq_at = 0;

  explicit Request(const std::string& body) {
    text = "POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    size_t head = text.size();
    text += body;
    node_at = head + body.find("bench-node-") + 11;
    seq_at = head + body.find("\"seq\":" + std::to_string(kFirstSeq)) + 6;
  }
  static void digits(char* at, uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) at[i] = static_cast<char>('0' + v % 10);
  }
  void set(uint32_t node, uint64_t seq) {
    digits(text.data() + node_at, node, kNodeDigits);
    digits(text.data() + seq_at, seq, 10);
  }
};

// The frontend, started with its database in `dir`, stopped by the PID recorded here.
class Frontend {
 public:
  Frontend(const std::string& binary, const fs::path& dir, const fs::path& token, size_t nodes) {
    std::string log = (dir / "log").string();
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      std::string max_nodes = std::to_string(nodes + 10);
      execl(binary.c_str(), "smartvm-frontend", "--listen", "127.0.0.1:0", "--db", (dir / "state.db").c_str(),
            "--token-file", token.c_str(), "--max-nodes", max_nodes.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 500 && !port_; ++i) {
      const std::string marker = "listening on 127.0.0.1:";
      std::string text = read_text(log);
      if (size_t at = text.find(marker); at != std::string::npos) port_ = std::atoi(text.c_str() + at + marker.size());
      else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Frontend() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  // CPU time of all its threads (the event loop and the flusher), in ns.
  uint64_t cpu_ns() const {
    uint64_t sum = 0;
    std::error_code ec;
    for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid_) + "/task", ec))
      sum += std::strtoull(read_text((t.path() / "schedstat").string()).c_str(), nullptr, 10);
    return sum;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// A counter from the frontend's /metrics, on a connection of its own; -1 when not there.
double metric(int port, const std::string& name) {
  int fd = connect_to(port);
  if (fd < 0) return -1;
  send_all(fd, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + name.size() + 2);
}

struct Connection {
  int fd = -1;
  Request req;
  std::vector<uint32_t> nodes;  // the nodes this connection posts for, in turn
  size_t next = 0;
  Clock::time_point sent;
  bool waiting = false;
  char in[4096];
  size_t have = 0;
};

struct Round {
  double reports_per_s = 0, p50_ms = 0, p99_ms = 0, frontend_us = 0, generator_us = 0, per_flush = 0;
  uint64_t errors = 0;
};

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Posts for `nodes` node names over `conns` connections for `seconds` (all of them once first,
// unmeasured, when `warm`), each node's seq one more than its last (`seqs`).
Round run(const Frontend& fe, const std::string& body, int conns, size_t nodes, std::vector<uint64_t>& seqs,
          double seconds, bool warm) {
  std::vector<Connection> cs;
  cs.reserve(static_cast<size_t>(conns));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int c = 0; c < conns; ++c) {
    cs.push_back(Connection{-1, Request(body), {}, 0, {}, false, {}, 0});
    Connection& k = cs.back();
    for (size_t n = static_cast<size_t>(c); n < nodes; n += static_cast<size_t>(conns)) k.nodes.push_back(static_cast<uint32_t>(n));
    k.fd = connect_to(fe.port());
    epoll_event e{EPOLLIN, {.ptr = &k}};
    epoll_ctl(ep, EPOLL_CTL_ADD, k.fd, &e);
  }
  std::vector<float> latencies;
  latencies.reserve(2'000'000);
  uint64_t errors = 0;
  auto post = [&](Connection& k) {
    uint32_t node = k.nodes[k.next++ % k.nodes.size()];
    k.req.set(node, ++seqs[node]);
    k.sent = Clock::now();
    k.waiting = send_all(k.fd, k.req.text);
    if (!k.waiting) ++errors;
  };
  // Reads what arrived; true when a whole answer is in (and consumed).
  auto answered = [&](Connection& k) {
    ssize_t n = recv(k.fd, k.in + k.have, sizeof k.in - k.have, MSG_DONTWAIT);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ++errors;
        k.waiting = false;
        epoll_ctl(ep, EPOLL_CTL_DEL, k.fd, nullptr);
      }
      return false;
    }
    k.have += static_cast<size_t>(n);
    std::string_view v(k.in, k.have);
    size_t head = v.find("\r\n\r\n");
    if (head == std::string_view::npos) return false;
    size_t cl = v.find("Content-Length: ");
    size_t length = cl < head ? std::strtoul(k.in + cl + 16, nullptr, 10) : 0;
    if (k.have < head + 4 + length) return false;
    if (v.substr(0, 12) != "HTTP/1.1 200") ++errors;
    size_t used = head + 4 + length;
    std::memmove(k.in, k.in + used, k.have - used);
    k.have -= used;
    k.waiting = false;
    return true;
  };
  // Every connection keeps one request in flight until `until` (warming: until it has posted
  // for each of its nodes once); then the last answers drain.
  auto drive = [&](Clock::time_point until, bool warming) {
    for (Connection& k : cs)
      if (!k.waiting) post(k);
    epoll_event events[128];
    for (;;) {
      size_t in_flight = 0;
      for (const Connection& k : cs) in_flight += k.waiting;
      if (in_flight == 0) break;
      int n = epoll_wait(ep, events, 128, 1000);
      if (n < 0 && errno != EINTR) break;
      if (n == 0 && Clock::now() > until + std::chrono::seconds(10)) break;
      for (int i = 0; i < n; ++i) {
        Connection& k = *static_cast<Connection*>(events[i].data.ptr);
        if (!k.waiting || !answered(k)) continue;
        auto now = Clock::now();
        if (warming ? k.next < k.nodes.size() : now < until) {
          if (!warming) latencies.push_back(std::chrono::duration<float, std::milli>(now - k.sent).count());
          post(k);
        }
      }
    }
  };
  if (warm) drive(Clock::now() + std::chrono::hours(1), true);
  errors = 0;
  double flushes0 = metric(fe.port(), "smartvm_frontend_log_flushes_total");
  double stored0 = metric(fe.port(), "smartvm_frontend_reports_stored_total");
  uint64_t cpu0 = fe.cpu_ns();
  double gen0 = thread_cpu_ns();
  auto t0 = Clock::now();
  auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  drive(until, false);
  double elapsed = std::chrono::duration<double>(until - t0).count();
  uint64_t cpu1 = fe.cpu_ns();
  double gen1 = thread_cpu_ns();
  double flushes = metric(fe.port(), "smartvm_frontend_log_flushes_total") - flushes0;
  double stored = metric(fe.port(), "smartvm_frontend_reports_stored_total") - stored0;
  for (Connection& k : cs) close(k.fd);
  close(ep);
  Round r;
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0 : latencies[static_cast<size_t>(p * static_cast<double>(latencies.size() - 1))];
  };
  double reports = static_cast<double>(latencies.size());
  r.reports_per_s = reports / elapsed;
  r.p50_ms = pct(0.5);
  r.p99_ms = pct(0.99);
  // Per report stored: the CPU of the last answers drained after the deadline is counted too.
  r.frontend_us = stored > 0 ? static_cast<double>(cpu1 - cpu0) / 1e3 / stored : 0;
  r.generator_us = stored > 0 ? (gen1 - gen0) / 1e3 / stored : 0;
  r.per_flush = flushes > 0 ? stored / flushes : 0;
  r.errors = errors;
  return r;
}

// The disk's floor for one durable answer: a 16 KiB overwrite of a written file and fdatasync
// (what a flush of the write-ahead log costs at best), repeated for `seconds`.
std::pair<double, double> flush_floor(const fs::path& dir, double seconds) {
  std::string path = (dir / "floor.bin").string();
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::string block(16384, 'x');
  for (int i = 0; i < 64; ++i) (void)!write(fd, block.data(), block.size());
  fsync(fd);
  std::vector<double> l;
  auto t0 = Clock::now();
  for (off_t off = 0; since(t0) < seconds; off = (off + 16384) % (64 * 16384)) {
    auto t = Clock::now();
    (void)!pwrite(fd, block.data(), block.size(), off);
    fdatasync(fd);
    l.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  close(fd);
  unlink(path.c_str());
  std::sort(l.begin(), l.end());
  return {l[l.size() / 2], l[l.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  size_t nodes = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10000;
  if (nodes < 64 || nodes > 99999) {
    std::fprintf(stderr, "bench_frontend_ingest: NODES must be 64 to 99999\n");
    return 2;
  }
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string binary = argc > 3 ? argv[3] : (self.parent_path() / "frontend/smartvm-frontend").string();
  // The database on the disk (/var/tmp, never tmpfs) and the reference's on tmpfs.
  char disk_tmpl[] = "/var/tmp/smartvm-bench-ingest.XXXXXX";
  char shm_tmpl[] = "/dev/shm/smartvm-bench-ingest.XXXXXX";
  fs::path disk = mkdtemp(disk_tmpl), shm = mkdtemp(shm_tmpl);
  std::ofstream(disk / "token") << kToken << "\n";
  chmod((disk / "token").c_str(), 0600);
  // Rank is by time then seq: one time for the whole run (now), seq rising.
  char now[32];
  std::time_t t = std::time(nullptr);
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::string body = report_body(now);

  struct Setup {
    const char* name;
    fs::path dir;
  };
  std::vector<Setup> setups = {{"durable (disk)", disk / "fe"}, {"reference: tmpfs", shm / "fe"}};
  std::vector<std::unique_ptr<Frontend>> fes;
  std::vector<std::vector<uint64_t>> seqs;
  for (const Setup& s : setups) {
    fs::create_directories(s.dir);
    fes.push_back(std::make_unique<Frontend>(binary, s.dir, disk / "token", nodes));
    seqs.emplace_back(nodes, kFirstSeq);
    if (!fes.back()->port()) {
      std::fprintf(stderr, "bench_frontend_ingest: the frontend did not start (%s)\n", (s.dir / "log").c_str());
      fes.clear();
      fs::remove_all(disk);
      fs::remove_all(shm);
      return 1;
    }
  }
  const int kConns[] = {8, 64};
  // [load][conns][setup]
  Round rounds[2][2][2];
  std::pair<double, double> floors[2];
  for (int load = 0; load < 2; ++load) {
    std::unique_ptr<smartvm::bench::DiskWriter> writer;
    if (load) {
      writer = std::make_unique<smartvm::bench::DiskWriter>(disk.string());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    floors[load] = flush_floor(disk, 1.0);
    for (int c = 0; c < 2; ++c)
      for (size_t s = 0; s < setups.size(); ++s)
        rounds[load][c][s] = run(*fes[s], body, kConns[c], nodes, seqs[s], seconds, load == 0 && c == 0);
  }
  fes.clear();

  std::printf("smartvm-frontend ingest: %zu node names, seq rising (every report stored), %zu-byte reports as nodeld "
              "renders them (8 job domains), keep-alive connections with one request in flight each, %.0f s per "
              "round; the load generator (one thread, epoll) on the same 2 cores\n\n",
              nodes, body.size(), seconds);
  std::printf("| connections | frontend | disk | reports/s | p50 (ms) | p99 (ms) | frontend CPU (us/report) | "
              "generator CPU (us/report) | reports per flush | errors |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (int c = 0; c < 2; ++c)
    for (size_t s = 0; s < setups.size(); ++s)
      for (int load = 0; load < 2; ++load) {
        const Round& r = rounds[load][c][s];
        std::printf("| %d | %s | %s | %.0f | %.2f | %.2f | %.1f | %.1f | %.1f | %llu |\n", kConns[c], setups[s].name,
                    load ? "dd writing" : "quiet", r.reports_per_s, r.p50_ms, r.p99_ms, r.frontend_us, r.generator_us,
                    r.per_flush, static_cast<unsigned long long>(r.errors));
      }
  std::printf("\nThe disk's floor for a durable answer (16 KiB overwrite + fdatasync, alone): quiet p50 %.2f ms, "
              "p99 %.2f ms; with dd writing p50 %.2f ms, p99 %.2f ms\n",
              floors[0].first, floors[0].second, floors[1].first, floors[1].second);
  fs::remove_all(disk);
  fs::remove_all(shm);
  return 0;
}
