// bench_nodeld's cycle of the real daemon: a nodeld binary run against a test:/// node, one
// report a second posted to a sink that counts them (a frontend stand-in that answers 200),
// and the daemon's CPU time per report: the kernel's runtime of all its threads, living and
// gone (clock_getcpuclockid: sum_exec_runtime, the counter /proc/PID/schedstat shows per
// thread; nanoseconds, not clock ticks). Everything the daemon does in an interval counts: the
// report's cycle, the throttle's tick (once a second), routing, job cleanup, the POST.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace smartvm::bench {

// Accepts POSTs on 127.0.0.1, answers {"stored":true}, counts them.
class ReportSink {
 public:
  ReportSink() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ReportSink() {
    stopping_ = true;
    boost::system::error_code ignored;
    // A connection of our own wakes the blocking accept.
    boost::asio::ip::tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  uint64_t reports() const { return reports_; }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stopping_) {
      boost::asio::ip::tcp::socket s(io_);
      boost::system::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) continue;
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) continue;
      http::response<http::string_body> res(http::status::ok, req.version());
      res.set(http::field::content_type, "application/json");
      res.body() = "{\"stored\":true}";
      res.keep_alive(false);
      res.prepare_payload();
      http::write(s, res, ec);
      ++reports_;
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reports_{0};
  std::thread thread_;
};

// A process's CPU time so far, all threads, in milliseconds; -1 once it is gone.
inline double process_cpu_ms(pid_t pid) {
  clockid_t clock{};
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &ts) != 0) return -1;
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// One run of `nodeld` on `node_xml` (interval 1 s, reports to `sink`): CPU per report over
// `cycles` reports, after `warmup` reports (the first reads every domain's XML). -1 on failure.
inline double daemon_cycle_cpu_ms(const std::string& nodeld, const std::filesystem::path& dir,
                                  const std::filesystem::path& node_xml, ReportSink& sink, int warmup = 3,
                                  int cycles = 10) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "jobs");
  std::ofstream(dir / "token") << "bench-token-for-the-sink\n";
  fs::permissions(dir / "token", fs::perms::owner_read | fs::perms::owner_write);  // nodeld refuses others' read
  // Job cleanup looks only in a runtime directory of its own: the host's is nobody's business here.
  std::ofstream(dir / "cycle.ini") << "[node]\nname = bench\nlibvirt_uri = test://" << node_xml.string()
                                   << "\ninterval = 1\n[report]\nfrontend = http://127.0.0.1:" << sink.port()
                                   << "/api/v1/report\ntoken_file = " << (dir / "token").string()
                                   << "\n[jobs]\nruntime_dir = " << (dir / "jobs").string() << "\n";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open((dir / "cycle.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(nodeld.c_str(), nodeld.c_str(), "--config", (dir / "cycle.ini").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto wait_reports = [&](uint64_t n) {
    for (int i = 0; i < 3000 && sink.reports() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return sink.reports() >= n;
  };
  double result = -1;
  uint64_t start = sink.reports();
  if (wait_reports(start + uint64_t(warmup))) {
    double c0 = process_cpu_ms(pid);
    uint64_t r0 = sink.reports();
    if (wait_reports(r0 + uint64_t(cycles))) {
      // Right after a report: the same point of the cycle as at the start.
      double c1 = process_cpu_ms(pid);
      uint64_t r1 = sink.reports();
      if (c0 >= 0 && c1 >= 0) result = (c1 - c0) / double(r1 - r0);
    }
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return result;
}

}  // namespace smartvm::bench
