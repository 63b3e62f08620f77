// The real smartvm-frontend binary on loopback, driven by a real HTTP client (Boost.Beast) and
// raw sockets: authentication, limits, keep-alive, clients that hold connections, and state kept
// across a restart.
#include "background_process.hpp"
#include "catch_result.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "utc_time.hpp"
#include "temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <thread>
#include <thread>

using namespace smartvm::test;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

const std::string kToken = "integration-token-0123456789";

// The frontend on any free port of loopback, stopped by the PID recorded when it started.
// `extra`: more options; `prefix`: a command that execs it (prlimit, to lower its file limit).
class Frontend {
 public:
  explicit Frontend(const TempDir& dir, std::vector<std::string> extra = {}, std::vector<std::string> prefix = {})
      : process_(command(dir, std::move(extra), std::move(prefix)), (dir / "frontend.log").string()) {
    port_ = process_.wait_for_port("listening on 127.0.0.1:");
  }
  int stop() { return process_.stop(); }
  void signal(int sig) const { process_.signal(sig); }
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string log() const { return process_.log(); }

 private:
  static std::vector<std::string> command(const TempDir& dir, std::vector<std::string> extra,
                                          std::vector<std::string> prefix) {
    std::vector<std::string> argv = std::move(prefix);
    for (std::string a : {std::string(SMARTVM_FRONTEND_PATH), std::string("--listen"), std::string("127.0.0.1:0"),
                          std::string("--db"), (dir / "state.db").string(), std::string("--token-file"),
                          (dir / "token").string()})
      argv.push_back(a);
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  BackgroundProcess process_;
  int port_ = 0;
};

// A connected TCP socket to loopback:port, closed when it goes.
class RawSocket {
 public:
  explicit RawSocket(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
  }
  ~RawSocket() { close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool send_text(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // What arrives within `limit`, until the peer closes; `closed` says whether it did.
  std::string receive(std::chrono::milliseconds limit, bool* closed = nullptr) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + limit;
    if (closed) *closed = false;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
};

// One GET on a fresh connection, answered within `limit`: the status line, or "" (none came).
std::string status_line_within(int port, const std::string& target, std::chrono::milliseconds limit) {
  RawSocket s(port);
  s.send_text("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string answer = s.receive(limit);
  return answer.substr(0, answer.find("\r\n"));
}

// CPU seconds (user + system) the process has used, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

using Client = HttpClient;

std::string report(const std::string& node, int seq) {
  return R"({"schema":1,"node":")" + node + R"(","time":"2026-11-22T04:00:00Z","seq":)" + std::to_string(seq) +
         R"(,"capacity":{"cpu_cores":32,"memory_kib":67108864},"domains":[{"name":"j","state":"running","vcpus":4,"memory_kib":4194304}]})";
}

std::string report_at(const std::string& node, const std::string& time, int seq) {
  std::string r = report(node, seq);
  return r.replace(r.find("2026-11-22T04:00:00Z"), 20, time);
}

std::string utc_in(std::chrono::seconds from_now) { return smartvm::format_utc(std::chrono::system_clock::now() + from_now); }

void write_token(const TempDir& t, mode_t mode = 0600) {
  write_file(t / "token", kToken + "\n");
  chmod((t / "token").c_str(), mode);
}

}  // namespace

TEST_CASE("frontend: reports over HTTP, one keep-alive connection, kept across a restart", "[frontend]") {
  TempDir t;
  write_token(t);
  {
    Frontend fe(t);
    REQUIRE(fe.port() > 0);
    Client c(fe.port());
    CHECK(c.send(http::verb::post, "/v1/reports", report("n001", 1), kToken).result() == http::status::ok);
    CHECK(c.send(http::verb::post, "/v1/reports", report("n002", 1), kToken).result() == http::status::ok);
    CHECK(c.send(http::verb::post, "/v1/reports", report("n002", 2), "wrong-token-0123456789").result() ==
          http::status::unauthorized);
    auto placed = c.send(http::verb::get, "/v1/placement?cores=28&memory_mib=1024");
    CHECK(placed.result() == http::status::ok);
    CHECK(placed.body().find("\"free_cores\":28") != std::string::npos);
    CHECK(fe.stop() == 0);  // SIGTERM: a clean exit
  }
  Frontend again(t);
  REQUIRE(again.port() > 0);
  Client c(again.port());
  auto nodes = c.send(http::verb::get, "/v1/nodes");
  CHECK(nodes.body().find("\"name\":\"n001\"") != std::string::npos);
  CHECK(nodes.body().find("\"name\":\"n002\"") != std::string::npos);
}

// Group commit holds what arrives during a flush in one open transaction: an answer may only
// go once that transaction is committed (and flushed). Eight connections post rising seqs
// while the frontend is killed (SIGKILL: nothing of it runs after); every report answered
// stored is there when it starts again.
TEST_CASE("frontend: every report answered 200 is kept when the frontend is killed mid-load", "[frontend]") {
  TempDir t;
  write_token(t);
  constexpr int kClients = 8, kNodes = 4;
  int acked[kClients][kNodes] = {};  // each client's own row, read after it is joined
  std::atomic<int> answers{0};
  {
    Frontend fe(t);
    REQUIRE(fe.port() > 0);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c)
      clients.emplace_back([&, c] {
        try {
          Client client(fe.port());
          for (int seq = 1;; ++seq)
            for (int n = 0; n < kNodes; ++n) {
              auto r = client.send(http::verb::post, "/v1/reports",
                                   report("k" + std::to_string(c) + "-" + std::to_string(n), seq), kToken);
              if (r.result() != http::status::ok) return;
              acked[c][n] = seq;
              ++answers;
            }
        } catch (const std::exception&) {  // the frontend is gone: this client is done
        }
      });
    // Killed mid-load: once many reports were answered (flushes are slow on a loaded machine).
    for (int i = 0; i < 200 && answers < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fe.signal(SIGKILL);
    for (auto& c : clients) c.join();
    fe.stop();
  }
  Frontend again(t);
  REQUIRE(again.port() > 0);
  Client c(again.port());
  for (int i = 0; i < kClients; ++i)
    for (int n = 0; n < kNodes; ++n) {
      if (acked[i][n] == 0) continue;
      auto r = c.send(http::verb::get, "/v1/nodes/k" + std::to_string(i) + "-" + std::to_string(n));
      REQUIRE(r.result() == http::status::ok);
      int64_t stored = boost::json::parse(r.body()).at("report").at("seq").to_number<int64_t>();
      INFO("node k" << i << "-" << n);
      CHECK(stored >= acked[i][n]);
    }
  CHECK(answers >= 200);  // the load ran: the kill came after many answers
}

TEST_CASE("frontend: an oversized body is refused with 413 before it is read", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  auto r = c.send(http::verb::post, "/v1/reports", std::string(5 << 20, ' '), kToken);
  CHECK(r.result() == http::status::payload_too_large);
  CHECK(r.body().find("larger than") != std::string::npos);
  Client fresh(fe.port());  // the server is still there for everyone else
  CHECK(fresh.send(http::verb::get, "/v1/nodes").result() == http::status::ok);
}

TEST_CASE("frontend: SIGPIPE from a client that went away does not end it", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  REQUIRE(kill(fe.pid(), SIGPIPE) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Client c(fe.port());
  CHECK(c.send(http::verb::post, "/v1/reports", report("node-a", 1), kToken).result() == http::status::ok);
  CHECK(fe.stop() == 0);
}

TEST_CASE("frontend: bad configuration is refused with a clear message", "[frontend]") {
  TempDir t;
  write_token(t, 0644);
  auto r = run_process({SMARTVM_FRONTEND_PATH, "--listen", "127.0.0.1:0", "--db", (t / "db").string(), "--token-file",
                        (t / "token").string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("is readable by everyone; chmod o-r it") != std::string::npos);
  auto no_token = run_process({SMARTVM_FRONTEND_PATH, "--listen", "127.0.0.1:0"});
  CHECK(no_token.exit_code == 2);
  auto bad_listen = run_process({SMARTVM_FRONTEND_PATH, "--listen", "localhost:99999", "--token-file", (t / "token").string()});
  CHECK(bad_listen.exit_code == 2);
  CHECK(bad_listen.err.find("\"99999\" is not a port number") != std::string::npos);
}

// The DOM headless Chromium builds from `url`. Chromium runs as root here, hence --no-sandbox;
// its profile goes into the test's directory.
static ProcessResult browser_dom(const TempDir& t, const std::string& url) {
  return run_process({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--user-data-dir=" + (t / "chromium").string(), "--dump-dom", url},
                     {{"HOME=" + t.path().string()}, std::chrono::seconds(90), {}});
}

TEST_CASE("frontend: the status page shows the node's row in a real browser (headless Chromium)", "[frontend][browser]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  std::string with_rdma = report("gpu-node-7", 1);
  with_rdma.insert(with_rdma.size() - 1,
                   R"(,"host":{"load":[2.5,1,0.5]},"rdma_ports":[{"device":"mlx5_0","port":1,"state":"ACTIVE","ipoib_interface":"ib0"}])");
  REQUIRE(c.send(http::verb::post, "/v1/reports", with_rdma, kToken).result() == http::status::ok);
  // Two more nodes with a whole host section (a point on each of their four sparklines), and
  // one that reports every second and then goes silent: stale after three of its intervals.
  for (const char* name : {"n-a", "n-b", "n-stale"}) {
    std::string r = report(name, 1);
    r.insert(r.size() - 1, std::string(R"(,"host":{"cpu_use_percent":48.74,"load":[3.33,2.1,1.35],)") +
                               R"("memory_free_kib":8388608,"pressure":{"io":2.5}})" +
                               (std::string(name) == "n-stale" ? R"(,"interval_seconds":1)" : ""));
    REQUIRE(c.send(http::verb::post, "/v1/reports", r, kToken).result() == http::status::ok);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(4100));
  auto page = browser_dom(t, "http://127.0.0.1:" + std::to_string(fe.port()) + "/");
  INFO(page.err.substr(0, 2000));
  REQUIRE(page.exit_code == 0);
  // The DOM as the browser built it: the node's row, with its state and RDMA port.
  size_t row = page.out.find("<tr class=\"fresh\" id=\"node-gpu-node-7\">");
  REQUIRE(row != std::string::npos);
  std::string tr = page.out.substr(row, page.out.find("</tr>", row) - row);
  CHECK(tr.find(">gpu-node-7</a></td>") != std::string::npos);
  CHECK(tr.find("mlx5_0") != std::string::npos);
  CHECK(tr.find("2.5") != std::string::npos);
  CHECK(page.out.find("http-equiv=\"refresh\"") != std::string::npos);
  CHECK(tr.find("<svg class=\"spark\"") != std::string::npos);
  CHECK(page.out.find("4 nodes: 3 fresh, 1 stale") != std::string::npos);
  size_t stale_table = page.out.find("<table id=\"stale\">");
  REQUIRE(stale_table != std::string::npos);
  CHECK(page.out.find("id=\"node-n-stale\"") > stale_table);
  size_t a = page.out.find("<tr class=\"fresh\" id=\"node-n-a\">");
  REQUIRE(a != std::string::npos);
  std::string a_row = page.out.substr(a, page.out.find("</tr>", a) - a);
  CHECK(occurrences(a_row, "<svg class=\"spark\"") == 4);
  CHECK(occurrences(a_row, "<polyline points=\"") == 4);  // one report: one point on each
  CHECK(a_row.find("48.7") != std::string::npos);

  // The node's own page, with a domain whose name is markup: shown as text, never run.
  std::string hostile = report("gpu-node-7", 2);
  hostile.replace(hostile.find(R"("name":"j")"), 10, R"("name":"<script>document.title='owned'</script>")");
  REQUIRE(c.send(http::verb::post, "/v1/reports", hostile, kToken).result() == http::status::ok);
  auto node = browser_dom(t, "http://127.0.0.1:" + std::to_string(fe.port()) + "/nodes/gpu-node-7");
  INFO(node.err.substr(0, 2000));
  REQUIRE(node.exit_code == 0);
  CHECK(node.out.find("<title>smartvm node gpu-node-7</title>") != std::string::npos);
  CHECK(node.out.find("&lt;script&gt;document.title='owned'&lt;/script&gt;") != std::string::npos);
  CHECK(node.out.find("<script>") == std::string::npos);
  CHECK(node.out.find("<table id=\"domains\">") != std::string::npos);
}

// Past the file limit, with the listen backlog full of connections it cannot take: the old
// accept loop retried at once and spun at 100 % CPU, answering nobody.
static void idle_flood(const std::vector<std::string>& options, bool out_of_descriptors) {
  TempDir t;
  write_token(t);
  // 128 descriptors: the default cap is 64 connections; 300 idle ones are far past both.
  Frontend fe(t, options, {"/usr/bin/prlimit", "--nofile=128:128", "--"});
  REQUIRE(fe.port() > 0);
  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 300; ++i) idle.push_back(std::make_unique<RawSocket>(fe.port()));
  double before = cpu_seconds(fe.pid());
  auto t0 = std::chrono::steady_clock::now();
  // A newcomer is still answered (it takes the place of the longest-idle connection).
  CHECK(status_line_within(fe.port(), "/v1/nodes", std::chrono::seconds(5)) == "HTTP/1.1 200 OK");
  std::this_thread::sleep_until(t0 + std::chrono::seconds(1));  // a measuring interval, not synchronisation
  double used = cpu_seconds(fe.pid()) - before;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("CPU seconds " << used << " in " << wall << " s");
  CHECK(used / wall < 0.2);  // of one core: the old accept loop took 64-80 % here, sharing the CPUs
  idle.clear();
  CHECK(fe.stop() == 0);
  // Running out of descriptors is said, once, however many accept() calls failed.
  CHECK(occurrences(fe.log(), "cannot accept connections: Too many open files") == (out_of_descriptors ? 1u : 0u));
}

TEST_CASE("frontend: idle connections past the file limit neither starve a new client nor spin", "[frontend]") {
  SECTION("the connection cap below the file limit") { idle_flood({}, false); }
  SECTION("a cap above the file limit: accept() fails, the server backs off") {
#ifdef SMARTVM_SANITIZED
    // UBSan's vptr check reads memory through a pipe(2) of its own; with every descriptor taken
    // that fails, and it reports an "invalid vptr" in Boost.System's error category and aborts
    // (non-recoverable, so no suppression applies). The README's build runs this section.
    WARN("skipped in a sanitizer build: the sanitizer's runtime needs descriptors of its own");
    return;
#endif
    idle_flood({"--max-connections", "1000"}, true);
  }
}

TEST_CASE("frontend: a client that sends its header slowly is closed after the header timeout", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t, {"--header-timeout", "2"});
  REQUIRE(fe.port() > 0);
  RawSocket slow(fe.port());
  auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  slow.send_text("GET /v1/nodes HTTP/1.1\r\n");
  // A header line every 200 ms: each read makes progress, but the header never ends.
  for (int i = 0; i < 75 && !closed; ++i) {
    slow.send_text("X-Slow-" + std::to_string(i) + ": 1\r\n");
    slow.receive(std::chrono::milliseconds(200), &closed);
  }
  REQUIRE(closed);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(6));
}

TEST_CASE("frontend: a report without a valid token is refused from its header, its body never read", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  RawSocket s(fe.port());
  // The header says almost 1 MB follows (within the report limit); none does. The answer must
  // not wait for it.
  s.send_text("POST /v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer not-the-token-0123456789\r\n"
              "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n");
  std::string answer = s.receive(std::chrono::seconds(5));
  CHECK(answer.substr(0, answer.find("\r\n")) == "HTTP/1.1 401 Unauthorized");
  // A small body after a wrong token is read and dropped: the keep-alive connection goes on.
  Client c(fe.port());
  CHECK(c.send(http::verb::post, "/v1/reports", report("n001", 1), "wrong-token-0123456789").result() ==
        http::status::unauthorized);
  CHECK(c.send(http::verb::post, "/v1/reports", report("n001", 1), kToken).result() == http::status::ok);
}

TEST_CASE("frontend: a report stamped in the future is refused, and the node's later reports are stored", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  auto future = c.send(http::verb::post, "/v1/reports", report_at("n001", "2261-01-01T00:00:00Z", 1), kToken);
  CHECK(future.result() == http::status::bad_request);
  CHECK(future.body().find("ahead of the frontend's clock") != std::string::npos);
  // A clock a minute ahead is tolerated, but does not outrank the reports made after it is put right.
  CHECK(c.send(http::verb::post, "/v1/reports", report_at("n001", utc_in(std::chrono::seconds(60)), 2), kToken).body() ==
        "{\"stored\":true}\n");
  CHECK(c.send(http::verb::post, "/v1/reports", report_at("n001", utc_in(std::chrono::seconds(1)), 3), kToken).body() ==
        "{\"stored\":true}\n");
  CHECK(c.send(http::verb::get, "/metrics").body().find("smartvm_frontend_reports_rejected_total{reason=\"clock_ahead\"} 1") !=
        std::string::npos);
}

TEST_CASE("frontend: numbers no node can have are refused with 400, never wrapped", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  REQUIRE(c.send(http::verb::post, "/v1/reports", report("n001", 1), kToken).result() == http::status::ok);
  for (const char* q : {"cores=9223372036854775808&memory_mib=1", "cores=1&memory_mib=9007199254740992",
                        "cores=18446744073709551615&memory_mib=1"}) {
    INFO(q);
    auto r = c.send(http::verb::get, std::string("/v1/placement?") + q);
    CHECK(r.result() == http::status::bad_request);
    CHECK(r.body().find("more than any node has") != std::string::npos);
  }
  std::string huge = report("n002", 1);
  huge.replace(huge.find("\"vcpus\":4"), 9, "\"vcpus\":9223372036854775808");
  CHECK(c.send(http::verb::post, "/v1/reports", huge, kToken).result() == http::status::bad_request);
  CHECK(c.send(http::verb::post, "/v1/reports", report_at("n002", "2026-02-30T00:00:00Z", 1), kToken).result() ==
        http::status::bad_request);
  CHECK(c.send(http::verb::get, "/v1/nodes/n002").result() == http::status::not_found);
}

TEST_CASE("frontend: how many nodes and how large a report are bounded", "[frontend]") {
  TempDir t;
  write_token(t);
  Frontend fe(t, {"--max-nodes", "3", "--max-report-kib", "64"});
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  for (const char* n : {"n1", "n2", "n3"}) CHECK(c.send(http::verb::post, "/v1/reports", report(n, 1), kToken).result() == http::status::ok);
  auto full = c.send(http::verb::post, "/v1/reports", report("n4", 1), kToken);
  CHECK(full.result() == http::status::insufficient_storage);
  CHECK(full.body().find("at most 3 nodes (--max-nodes)") != std::string::npos);
  CHECK(c.send(http::verb::post, "/v1/reports", report("n2", 2), kToken).body() == "{\"stored\":true}\n");  // known names go on
  CHECK(c.send(http::verb::get, "/v1/nodes/n4").result() == http::status::not_found);
  std::string big = report("n1", 2);
  big.insert(big.size() - 1, ",\"padding\":\"" + std::string(100 << 10, 'x') + "\"");
  Client fresh(fe.port());
  CHECK(fresh.send(http::verb::post, "/v1/reports", big, kToken).result() == http::status::payload_too_large);
}

TEST_CASE("frontend: per-node tokens: each node posts for itself only", "[frontend]") {
  TempDir t;
  write_token(t);
  write_file(t / "node-secret", "node-secret-0123456789abcdef\n");
  chmod((t / "node-secret").c_str(), 0600);
  auto printed = run_process({SMARTVM_FRONTEND_PATH, "--node-secret-file", (t / "node-secret").string(), "--node-token", "n001"});
  REQUIRE(printed.exit_code == 0);
  std::string n001 = printed.out.substr(0, printed.out.find('\n'));
  CHECK(n001.rfind("n001:", 0) == 0);
  CHECK(n001.size() == 5 + 64);
  Frontend fe(t, {"--node-secret-file", (t / "node-secret").string()});
  REQUIRE(fe.port() > 0);
  Client c(fe.port());
  CHECK(c.send(http::verb::post, "/v1/reports", report("n001", 1), n001).body() == "{\"stored\":true}\n");
  auto other = c.send(http::verb::post, "/v1/reports", report("n002", 1), n001);
  CHECK(other.result() == http::status::forbidden);
  CHECK(other.body().find("the token is node n001's; the report is from node n002") != std::string::npos);
  std::string forged = "n002" + n001.substr(4);  // another name with n001's MAC
  CHECK(c.send(http::verb::post, "/v1/reports", report("n002", 1), forged).result() == http::status::unauthorized);
  // The shared token, configured too, still speaks for every node.
  CHECK(c.send(http::verb::post, "/v1/reports", report("n002", 1), kToken).result() == http::status::ok);
}

// nodeld's side: a report the frontend answers {"stored":false} (it holds a newer one of the
// node's name) is said once and counted. Here nodeld's clock runs 6 s behind (libfaketime), and
// a report of its name made on time is already stored, as when two nodes share a name.
TEST_CASE("frontend: nodeld says once, and counts, that its reports are not stored", "[frontend][nodeld]") {
  TempDir t;
  write_token(t);
  Frontend fe(t);
  REQUIRE(fe.port() > 0);
  std::string boot_id = read_file("/proc/sys/kernel/random/boot_id");
  boot_id = boot_id.substr(0, boot_id.find('\n'));
  std::string on_time = report_at("node-it", utc_in(std::chrono::seconds(0)), 1);
  on_time.insert(on_time.size() - 1, R"(,"host":{"boot_id":")" + boot_id + "\"}");
  Client c(fe.port());
  REQUIRE(c.send(http::verb::post, "/v1/reports", on_time, kToken).body() == "{\"stored\":true}\n");

  write_file(t / "nodeld.ini", "[node]\nname = node-it\nlibvirt_uri = test:///default\ninterval = 1\n[ipoib]\nmode = off\n"
                               "[report]\nfrontend = http://127.0.0.1:" + std::to_string(fe.port()) +
                               "/v1/reports\ntoken_file = " + (t / "token").string() + "\nmetrics_listen = 127.0.0.1:0\n");
  BackgroundProcess nodeld({SMARTVM_NODELD_PATH, "--config", (t / "nodeld.ini").string()}, (t / "nodeld.log").string(),
                           {"LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "FAKETIME=-6",
                            "DONT_FAKE_MONOTONIC=1",
                            // Built with ASan, nodeld refuses a preloaded library ahead of ASan's
                            // runtime unless told that this one is fine.
                            "ASAN_OPTIONS=verify_asan_link_order=0"});
  int metrics_port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(metrics_port > 0);
  // Once its clock has passed the stored report's time, its reports are stored again.
  REQUIRE(nodeld.wait_for_log("stores this node's reports again", nullptr, std::chrono::seconds(20)));
  std::string log = nodeld.log();
  INFO(log);
  CHECK(occurrences(log, "does not store this node's reports") == 1);
  std::string scrape = http_get(metrics_port, "/metrics");
  const std::string metric = "\nsmartvm_node_reports_not_stored_total ";
  size_t at = scrape.find(metric);
  REQUIRE(at != std::string::npos);
  CHECK(std::stoull(scrape.substr(at + metric.size())) >= 2);  // about 6 reports, one line in the log
  CHECK(nodeld.stop() == 0);
}
