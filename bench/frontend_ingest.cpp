// bench_frontend_ingest: reports per second the real smartvm-frontend stores, with 1, 8 and 64
// concurrent clients (each a keep-alive connection posting a report of a node of its own), and
// the p50/p99 latency of a POST. Target (issue 3): 20,000 reports/s on 2 cores.
// Usage: bench_frontend_ingest [SECONDS_PER_ROUND]
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "bench-token-0123456789abcdef";

std::string report(const std::string& node, uint64_t seq) {
  std::string domains;
  for (int i = 0; i < 8; ++i)
    domains += std::string(i ? "," : "") + R"({"name":"job-)" + std::to_string(i) +
               R"(","state":"running","vcpus":4,"memory_kib":4194304,"cpu_seconds":12.5})";
  return R"({"schema":1,"node":")" + node + R"(","time":"2026-11-22T04:00:00Z","seq":)" + std::to_string(seq) +
         R"(,"interval_seconds":10,"host":{"cpu_cores":64,"load":[1.5,1.2,1.0]},"capacity":{"cpu_cores":64,"memory_kib":268435456},"domains":[)" +
         domains + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  fs::path self = fs::canonical("/proc/self/exe").parent_path();
  std::string frontend = (self.parent_path() / "frontend/smartvm-frontend").string();
  char tmpl[] = "/tmp/smartvm-bench.XXXXXX";
  fs::path tmp = mkdtemp(tmpl);
  std::ofstream(tmp / "token") << kToken << "\n";
  chmod((tmp / "token").c_str(), 0600);
  std::string log = (tmp / "log").string();

  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    execl(frontend.c_str(), "smartvm-frontend", "--listen", "127.0.0.1:0", "--db", (tmp / "state.db").c_str(),
          "--token-file", (tmp / "token").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 300 && !port; ++i) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const std::string marker = "listening on 127.0.0.1:";
    if (size_t at = text.find(marker); at != std::string::npos) port = std::atoi(text.c_str() + at + marker.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!port) {
    std::fprintf(stderr, "bench_frontend_ingest: the frontend did not start\n");
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(tmp);
    return 1;
  }

  std::printf("smartvm-frontend ingest: 8-domain reports, keep-alive clients, %.0f s per round, 2 cores shared\n\n", seconds);
  std::printf("| clients | reports/s | p50 latency (ms) | p99 latency (ms) | errors |\n|---|---|---|---|---|\n");
  for (int clients : {1, 8, 64}) {
    std::atomic<uint64_t> errors{0};
    std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
    std::vector<std::thread> threads;
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto start = Clock::now();
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        std::string node = "node-" + std::to_string(clients) + "-" + std::to_string(c);
        beast::flat_buffer buf;
        for (uint64_t seq = 1; Clock::now() < deadline; ++seq) {
          http::request<http::string_body> req(http::verb::post, "/v1/reports", 11);
          req.set(http::field::host, "127.0.0.1");
          req.set(http::field::authorization, "Bearer " + kToken);
          req.body() = report(node, seq);
          req.prepare_payload();
          auto t0 = Clock::now();
          beast::error_code ec;
          http::write(stream, req, ec);
          http::response<http::string_body> res;
          if (!ec) http::read(stream, buf, res, ec);
          if (ec || res.result() != http::status::ok) {
            ++errors;
            break;
          }
          latencies[static_cast<size_t>(c)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
      });
    }
    for (auto& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&all](double p) { return all.empty() ? 0.0 : all[static_cast<size_t>(p * static_cast<double>(all.size() - 1))]; };
    std::printf("| %d | %.0f | %.3f | %.3f | %llu |\n", clients, static_cast<double>(all.size()) / elapsed, pct(0.5),
                pct(0.99), static_cast<unsigned long long>(errors.load()));
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove_all(tmp);
  return 0;
}
