// The real smartvm-frontend binary on loopback, driven by a real HTTP client (Boost.Beast):
// authentication, limits, keep-alive, and state kept across a restart.
#include "background_process.hpp"
#include "catch_result.hpp"
#include "http_client.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <thread>

using namespace smartvm::test;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

const std::string kToken = "integration-token-0123456789";

// The frontend on any free port of loopback, stopped by the PID recorded when it started.
class Frontend {
 public:
  explicit Frontend(const TempDir& dir)
      : process_({SMARTVM_FRONTEND_PATH, "--listen", "127.0.0.1:0", "--db", (dir / "state.db").string(), "--token-file",
                  (dir / "token").string()},
                 (dir / "frontend.log").string()) {
    port_ = process_.wait_for_port("listening on 127.0.0.1:");
  }
  int stop() { return process_.stop(); }
  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string log() const { return process_.log(); }

 private:
  BackgroundProcess process_;
  int port_ = 0;
};

using Client = HttpClient;

std::string report(const std::string& node, int seq) {
  return R"({"schema":1,"node":")" + node + R"(","time":"2026-11-22T04:00:00Z","seq":)" + std::to_string(seq) +
         R"(,"capacity":{"cpu_cores":32,"memory_kib":67108864},"domains":[{"name":"j","state":"running","vcpus":4,"memory_kib":4194304}]})";
}

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
  // Chromium runs as root here, hence --no-sandbox; its profile goes into the test's directory.
  auto page = run_process({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--user-data-dir=" + (t / "chromium").string(), "--dump-dom",
                           "http://127.0.0.1:" + std::to_string(fe.port()) + "/"},
                          {{"HOME=" + t.path().string()}, std::chrono::seconds(90), {}});
  INFO(page.err.substr(0, 2000));
  REQUIRE(page.exit_code == 0);
  // The DOM as the browser built it: the node's row, with its state and RDMA port.
  size_t row = page.out.find("<tr class=\"fresh\" id=\"node-gpu-node-7\">");
  REQUIRE(row != std::string::npos);
  std::string tr = page.out.substr(row, page.out.find("</tr>", row) - row);
  CHECK(tr.find("<td>gpu-node-7</td>") != std::string::npos);
  CHECK(tr.find("mlx5_0") != std::string::npos);
  CHECK(tr.find("2.5") != std::string::npos);
  CHECK(page.out.find("http-equiv=\"refresh\"") != std::string::npos);
}
