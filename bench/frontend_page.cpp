// bench_frontend_page: the status page at 2,000 nodes with an hour of history each (one report a
// minute), rendered by the frontend's own API code: the overview's first and last pages and one
// node's page. Prints the median and worst of 20 renders of each and the CPU per render
// (rusage), on a quiet machine and again with a disk writer (dd oflag=direct) on the same disk.
// Target (issue 17): a page under 300 ms at 2,000 nodes.
// Usage: bench_frontend_page [NODES]
#include "disk_writer.hpp"
#include "http_api.hpp"
#include "utc_time.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using namespace smartvm;
using namespace smartvm::frontend;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "bench-token-0123456789abcdef";
constexpr int64_t kNow = 1800000000;

double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

Response call(Api& api, http::verb verb, const std::string& target, const std::string& body, int64_t now) {
  Request req(verb, target, 11);
  req.set(http::field::authorization, "Bearer " + kToken);
  req.body() = body;
  req.prepare_payload();
  return api.handle(req, now);
}

void measure(Api& api, const std::string& what, const std::string& target) {
  std::vector<double> wall;
  double cpu0 = cpu_ms();
  size_t bytes = 0;
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    Response r = call(api, http::verb::get, target, "", kNow);
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    bytes = r.body().size();
    if (r.result() != http::status::ok) std::fprintf(stderr, "%s: HTTP %u\n", target.c_str(), unsigned(r.result_int()));
  }
  double cpu = (cpu_ms() - cpu0) / 20;
  std::sort(wall.begin(), wall.end());
  std::printf("| %-40s | %8.1f | %8.1f | %8.1f | %7zu |\n", what.c_str(), wall[10], wall.back(), cpu, bytes / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::string dir = "/tmp/bench_frontend_page." + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto store = NodeStore::open(dir + "/state.db", static_cast<size_t>(nodes) + 10).value();
  ApiSettings s;
  s.post_token = kToken;
  Api api(*store, s);
  std::fprintf(stderr, "filling: %d nodes, one report a minute for an hour...\n", nodes);
  for (int64_t t = kNow - 3600; t <= kNow; t += 60)
    for (int n = 0; n < nodes; ++n) {
      char name[32];
      std::snprintf(name, sizeof name, "node%04d", n);
      std::string time = format_utc(std::chrono::system_clock::from_time_t(t));
      std::string body = std::string(R"({"schema":1,"node":")") + name + R"(","time":")" + time + R"(","seq":)" +
                         std::to_string(t) + R"(,"interval_seconds":60,"capacity":{"cpu_cores":64,"memory_kib":268435456},)"
                         R"("host":{"cpu_use_percent":)" + std::to_string((t / 60 + n) % 100) +
                         R"(,"load":[3.5,2,1],"memory_free_kib":134217728,"pressure":{"io":1.5}},"domains":[)"
                         R"({"name":"job-1","state":"running","vcpus":8,"memory_kib":16777216}]})";
      call(api, http::verb::post, "/v1/reports", body, t);
    }
  std::printf("Status page at %d nodes, an hour of history each (20 renders each; ms)\n\n", nodes);
  std::printf("| %-40s | %8s | %8s | %8s | %7s |\n", "page", "median", "worst", "CPU", "KiB");
  std::printf("|------------------------------------------|----------|----------|----------|---------|\n");
  for (bool loaded : {false, true}) {
    std::optional<bench::DiskWriter> writer;
    if (loaded) {
      writer.emplace(dir);
      sleep(2);  // the writer's queue fills
    }
    std::string when = loaded ? ", disk writer" : ", quiet";
    measure(api, "overview, first page" + when, "/");
    measure(api, "overview, last page" + when, "/?page=" + std::to_string((nodes - 1) / 100));
    measure(api, "one node's page" + when, "/nodes/node0007");
    measure(api, "GET /v1/nodes (JSON, all)" + when, "/v1/nodes");
  }
  std::filesystem::remove_all(dir);
  return 0;
}
