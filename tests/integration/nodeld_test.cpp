// The real nodeld binary: --check-config, --once against libvirt's test driver, reports to a
// real smartvm-frontend that is down and then comes up, /metrics checked by promtool, SIGHUP
// with a bad and then a good configuration, and the control object on a private bus for root
// and for somebody else.
#include "background_process.hpp"
#include "catch_result.hpp"
#include "http_client.hpp"
#include "libvirtd.hpp"
#include "node_report.hpp"
#include "private_bus.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <systemd/sd-bus.h>
#include <grp.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

using namespace smartvm;
using namespace smartvm::test;

namespace {

const std::string kToken = "nodeld-integration-token-42";

std::string node_xml(int n) {
  std::string x =
      "<node><cpu><mhz>2000</mhz><model>x86_64</model><active>16</active><nodes>1</nodes><sockets>1</sockets>"
      "<cores>8</cores><threads>2</threads></cpu><memory>33554432</memory>\n";
  for (int i = 0; i < n; ++i)
    x += "<domain type='test'><name>vm" + std::to_string(i) +
         "</name><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>\n";
  return x + "</node>\n";
}

// A port nobody listens on now (bound by the kernel's choice, then released).
int free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

struct Setup {
  TempDir t;
  std::string config = (t / "nodeld.ini").string();
  int frontend_port = free_port();
  Setup(int domains = 5) {
    write_file(t / "node.xml", node_xml(domains));
    write_file(t / "token", kToken + "\n");
    chmod((t / "token").c_str(), 0600);
    write_config(1);
  }
  void write_config(int interval, const std::string& extra = "") {
    write_file(config, "[node]\nname = node-it\nlibvirt_uri = test://" + (t / "node.xml").string() +
                           "\ninterval = " + std::to_string(interval) + "\n" + extra + "[ipoib]\nmode = off\n" +
                           "[report]\nfrontend = http://127.0.0.1:" + std::to_string(frontend_port) +
                           "/v1/reports\ntoken_file = " + (t / "token").string() + "\nmetrics_listen = 127.0.0.1:0\n");
  }
  std::vector<std::string> nodeld(const std::vector<std::string>& more = {}) const {
    std::vector<std::string> argv{SMARTVM_NODELD_PATH, "--config", config};
    argv.insert(argv.end(), more.begin(), more.end());
    return argv;
  }
};

ProcessResult promtool(const TempDir& t, const std::string& text) {
  write_file(t / "scrape.txt", text);
  return run_process({"/bin/sh", "-c", "promtool check metrics < " + (t / "scrape.txt").string()});
}

// Calls a method of nodeld's control object on the bus at `address`; "" or the D-Bus error name.
std::string call(const std::string& address, const char* method, std::string* reply_text = nullptr) {
  sd_bus* bus = nullptr;
  if (sd_bus_new(&bus) < 0) return "sd_bus_new";
  sd_bus_set_address(bus, address.c_str());
  sd_bus_set_bus_client(bus, 1);
  if (sd_bus_start(bus) < 0) {
    sd_bus_unref(bus);
    return "connect";
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus, "org.smartvm.Nodeld1", "/org/smartvm/Nodeld1", "org.smartvm.Nodeld1", method, &error,
                             &reply, "");
  std::string out = r < 0 ? std::string(error.name ? error.name : "failed") : "";
  if (r >= 0 && reply_text) {
    const char* s = nullptr;
    if (sd_bus_message_read(reply, "s", &s) >= 0 && s) *reply_text = s;
  }
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  sd_bus_flush_close_unref(bus);
  return out;
}

}  // namespace

TEST_CASE("nodeld: --check-config lists every problem as file:line and fails", "[nodeld]") {
  Setup s;
  auto good = run_process(s.nodeld({"--check-config"}));
  CHECK(good.exit_code == 0);
  CHECK(good.out.find(": OK") != std::string::npos);
  write_file(s.config, "[node]\ninterval = never\n[report]\nmetrics_listen = :x\n[throttle]\nmode = maybe\n");
  auto bad = run_process(s.nodeld({"--check-config"}));
  CHECK(bad.exit_code == 1);
  CHECK(bad.out.find(s.config + ":2: [node] interval") != std::string::npos);
  CHECK(bad.out.find(s.config + ":4: [report] metrics_listen") != std::string::npos);
  CHECK(bad.out.find(s.config + ":6: [throttle] mode") != std::string::npos);
  // The daemon refuses to start on it, and says how to see why.
  auto start = run_process(s.nodeld(), {{}, std::chrono::seconds(10), {}});
  CHECK(start.exit_code == 1);
  CHECK(start.err.find("--check-config") != std::string::npos);
}

TEST_CASE("nodeld: --once prints one report the frontend accepts", "[nodeld]") {
  Setup s(40);
  auto r = run_process(s.nodeld({"--once"}));
  REQUIRE(r.exit_code == 0);
  auto report = decode_report(r.out);
  REQUIRE(report);
  CHECK(report->node == "node-it");
  CHECK(report->capacity_cores == 16);
  CHECK(report->domains.size() == 40);
  CHECK(report->raw.as_object().contains("host"));
  CHECK(!report->raw.as_object().contains("stale"));
}

TEST_CASE("nodeld: reports reach a frontend that comes up late, and the outage is logged once", "[nodeld][frontend]") {
  Setup s;
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int metrics_port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(metrics_port > 0);
  REQUIRE(nodeld.wait_for_log("cannot deliver reports to"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // several cycles into the outage

  // nodeld's own metrics meanwhile, valid for promtool.
  std::string scrape = http_get(metrics_port, "/metrics");
  CHECK(scrape.find("smartvm_node_domains{node=\"node-it\",state=\"running\"} 5") != std::string::npos);
  auto checked = promtool(s.t, scrape);
  INFO(checked.out << checked.err);
  CHECK(checked.exit_code == 0);

  BackgroundProcess frontend({SMARTVM_FRONTEND_PATH, "--listen", "127.0.0.1:" + std::to_string(s.frontend_port), "--db",
                              (s.t / "fe.db").string(), "--token-file", (s.t / "token").string()},
                             (s.t / "frontend.log").string());
  REQUIRE(frontend.wait_for_log("listening on"));
  CHECK(nodeld.wait_for_log("reports reach", nullptr, std::chrono::seconds(15)));
  std::string node;
  for (int i = 0; i < 100 && node.find("\"node-it\"") == std::string::npos; ++i) {
    node = http_get(s.frontend_port, "/v1/nodes/node-it");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(node.find("\"capacity_cores\":16") != std::string::npos);
  std::string log = nodeld.log();
  INFO(log);
  CHECK(occurrences(log, "cannot deliver reports") == 1);
  CHECK(occurrences(log, "reports reach") == 1);
  // The frontend's own metrics are valid too.
  auto fe_checked = promtool(s.t, http_get(s.frontend_port, "/metrics"));
  INFO(fe_checked.out << fe_checked.err);
  CHECK(fe_checked.exit_code == 0);
  CHECK(nodeld.stop() == 0);
  CHECK(frontend.stop() == 0);
}

TEST_CASE("nodeld: SIGHUP with a bad configuration keeps the running one", "[nodeld]") {
  Setup s;
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  write_file(s.config, "[node]\ninterval = -3\n");
  nodeld.signal(SIGHUP);
  REQUIRE(nodeld.wait_for_log("refused; the running configuration stays"));
  CHECK(nodeld.log().find(s.config + ":2: [node] interval") != std::string::npos);
  CHECK(http_get(port, "/metrics").find("smartvm_node_source_up") != std::string::npos);
  s.write_config(2);
  nodeld.signal(SIGHUP);
  CHECK(nodeld.wait_for_log("reloaded " + s.config));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: a token file that is a FIFO is refused at SIGHUP without blocking, and /metrics still answers",
          "[nodeld]") {
  Setup s;
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  REQUIRE(unlink((s.t / "token").c_str()) == 0);
  REQUIRE(mkfifo((s.t / "token").c_str(), 0600) == 0);  // nobody ever writes to it
  nodeld.signal(SIGHUP);
  CHECK(nodeld.wait_for_log("token file " + (s.t / "token").string() + " is not a regular file"));
  CHECK(nodeld.wait_for_log("refused; the running configuration stays"));
  // A client with a deadline of its own: a blocked loop must fail this, not hang the test.
  auto scrape = run_process({"/usr/bin/curl", "-s", "-m", "5", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  CHECK(scrape.out.find("smartvm_node_source_up") != std::string::npos);
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: a guest cgroup path that loops is an error of that guest, and nodeld throttles on", "[nodeld][throttle]") {
  Setup s(2);
  // vm0's cgroup has an io.max that points at itself: every look at it fails with ELOOP.
  std::filesystem::create_directories(s.t / "cg/vm0");
  std::filesystem::create_directories(s.t / "cg/vm1");
  REQUIRE(symlink("io.max", (s.t / "cg/vm0/io.max").c_str()) == 0);
  write_file(s.t / "host.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  auto guest_psi = [&](uint64_t total_us) {
    write_file(s.t / "vm0.pressure", "some avg10=1.00 avg60=0.00 avg300=0.00 total=" + std::to_string(total_us) +
                                         "\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  };
  guest_psi(2'500'000);
  s.write_config(1, "[throttle]\nmode = adaptive\ntarget_io_pressure = 100\nbackend = cgroup\ncgroup = " +
                         (s.t / "cg/%n").string() + "\npressure = " + (s.t / "host.pressure").string() +
                         "\ndomain_pressure = " + (s.t / "%n.pressure").string() + "\n");
  REQUIRE(run_process(s.nodeld({"--check-config"})).exit_code == 0);
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  // The throttle ticks once a second and reads vm0's cgroup each time; the guest's pressure
  // counter, read in the same tick after it, shows that ticks go on.
  auto scrape_until = [&](const std::string& line) {
    return get_until(port, "/metrics", line).find(line) != std::string::npos;
  };
  CHECK(scrape_until("smartvm_domain_io_pressure_some_seconds_total{domain=\"vm0\"} 2.5\n"));
  guest_psi(3'000'000);
  CHECK(scrape_until("smartvm_domain_io_pressure_some_seconds_total{domain=\"vm0\"} 3\n"));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: the control object answers root and refuses anybody else", "[nodeld][dbus]") {
  Setup s;
  s.write_config(1);
  PrivateBus bus;
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string(), {"DBUS_SYSTEM_BUS_ADDRESS=" + bus.address()});
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  std::string report;
  CHECK(call(bus.address(), "GetReport", &report) == "");
  auto decoded = decode_report(report);
  REQUIRE(decoded);
  CHECK(decoded->node == "node-it");
  CHECK(call(bus.address(), "Reload") == "");
  CHECK(nodeld.wait_for_log("reloaded"));

  // The same calls from uid 65534 (nobody), in a child that drops root first.
  pid_t child = fork();
  if (child == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(10);
    std::string got = call(bus.address(), "GetReport");
    if (got != "org.freedesktop.DBus.Error.AccessDenied") std::fprintf(stderr, "non-root GetReport: %s\n", got.c_str());
    bool denied = got == "org.freedesktop.DBus.Error.AccessDenied" &&
                  call(bus.address(), "Reload") == "org.freedesktop.DBus.Error.AccessDenied";
    _exit(denied ? 0 : 11);
  }
  int st = 0;
  waitpid(child, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(nodeld.wait_for_log("only root may call nodeld"));
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: a libvirtd that goes away and comes back: reports go on, libvirt marked stale meanwhile",
          "[nodeld][libvirtd]") {
  Setup s;
  Libvirtd libvirtd(s.t);
  REQUIRE(libvirtd.start());
  write_file(s.config, "[node]\nname = node-it\nlibvirt_uri = " + libvirtd.uri() +
                           "\ninterval = 1\n[report]\nmetrics_listen = 127.0.0.1:0\n");
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  REQUIRE(nodeld.wait_for_log("ready: first report made (1 domains)"));
  const std::string up = "smartvm_node_source_up{node=\"node-it\",source=\"libvirt\"} 1";
  const std::string down = "smartvm_node_source_up{node=\"node-it\",source=\"libvirt\"} 0";
  auto metrics_show = [&](const std::string& what) {
    for (int i = 0; i < 150; ++i) {
      if (http_get(port, "/metrics").find(what) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  CHECK(metrics_show(up));

  libvirtd.stop();
  CHECK(nodeld.wait_for_log("libvirt connection to " + libvirtd.uri()));
  CHECK(metrics_show(down));
  // The domain it knew is still reported (marked stale), and reports keep coming.
  std::string scrape = http_get(port, "/metrics");
  CHECK(scrape.find("smartvm_domain_state{domain=\"test\"") != std::string::npos);

  REQUIRE(libvirtd.start());
  CHECK(nodeld.wait_for_log("is back", nullptr, std::chrono::seconds(20)));
  CHECK(metrics_show(up));
  std::string log = nodeld.log();
  INFO(log);
  CHECK(occurrences(log, "cannot connect to " + libvirtd.uri()) == 1);  // the outage is logged once, not per attempt
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: SIGPIPE, what a write to a libvirtd that just died raises, does not end it", "[nodeld][libvirtd]") {
  Setup s;
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(port > 0);
  REQUIRE(nodeld.wait_for_log("ready: first report made"));
  // libvirt's client writes with write(2), not send(MSG_NOSIGNAL): the kernel's signal for a
  // peer that is gone lands in the process, as this one does.
  REQUIRE(kill(nodeld.pid(), SIGPIPE) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(http_get(port, "/metrics").find("smartvm_node_source_up") != std::string::npos);
  CHECK(nodeld.stop() == 0);
}

TEST_CASE("nodeld: systemd's notify protocol: READY, STATUS, watchdog pings from the loop, RELOADING, STOPPING",
          "[nodeld][systemd]") {
  Setup s;
  std::string path = (s.t / "notify.sock").string();
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::vector<std::string> got;
  // Everything nodeld sends within `ms`.
  auto receive = [&](int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{sock, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(sock, buf, sizeof buf, 0);
      if (n > 0) got.emplace_back(buf, size_t(n));
    }
  };
  auto seen = [&](const std::string& prefix) {
    return std::count_if(got.begin(), got.end(), [&](const std::string& m) { return m.rfind(prefix, 0) == 0; });
  };
  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string(), {"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=200000"});
  receive(1500);
  CHECK(seen("READY=1") == 1);
  CHECK(seen("STATUS=report 1: 5 domains") == 1);
  CHECK(seen("WATCHDOG=1") >= 5);  // every 100 ms: half the watchdog interval
  got.clear();
  nodeld.signal(SIGHUP);
  receive(500);
  CHECK(seen("RELOADING=1") == 1);
  CHECK(seen("READY=1") == 1);
  got.clear();
  nodeld.signal(SIGTERM);
  receive(500);
  CHECK(seen("STOPPING=1") == 1);
  CHECK(nodeld.stop() == 0);
  close(sock);
}

TEST_CASE("nodeld: a job whose smartvm-run was killed is destroyed and its directory removed, once, and --once leaves it",
          "[nodeld][jobs]") {
  Setup s(2);
  std::filesystem::path runtime = s.t / "jobs";
  std::filesystem::path job = runtime / "jit";
  std::filesystem::create_directories(job);
  write_file(job / "disk.qcow2", "overlay");
  std::filesystem::create_directories(s.t / "elsewhere");
  write_file(s.t / "elsewhere" / "keep", "not nodeld's");
  // The launcher: a process this test started and killed; its pid is in the domain's metadata
  // (for the log), and nothing holds the job directory's lock (smartvm-run's, while it lives).
  pid_t launcher;
  {
    BackgroundProcess gone({"/bin/sleep", "300"}, (s.t / "sleep.log").string());
    launcher = gone.pid();
    // Stopped once it runs sleep: before its exec it is a copy of this binary, whose Catch
    // handler would report the signal as a failure.
    REQUIRE(wait_for_comm(launcher, "sleep"));
    gone.stop();
  }
  std::string xml = node_xml(2);
  xml.insert(xml.rfind("</node>"),
             "<domain type='test'><name>smartvm-jit</name><metadata><smartvm:job "
             "xmlns:smartvm='https://smartvm.dev/xmlns/job/1'><smartvm:service>blast</smartvm:service>"
             "<smartvm:job_id>jit</smartvm:job_id><smartvm:owner>alice</smartvm:owner><smartvm:launcher_pid>" +
                 std::to_string(launcher) +
                 "</smartvm:launcher_pid><smartvm:job_dir>" + job.string() +
                 "</smartvm:job_dir></smartvm:job></metadata><memory>524288</memory><vcpu>2</vcpu><os><type>hvm"
                 "</type></os><devices><disk type='file' device='disk'><source file='" + (job / "disk.qcow2").string() +
                 "'/><target dev='vda'/></disk><disk type='file' device='disk'><source file='" +
                 (s.t / "elsewhere" / "keep").string() + "'/><target dev='vdb'/></disk></devices></domain>\n");
  write_file(s.t / "node.xml", xml);
  s.write_config(1, "[jobs]\nruntime_dir = " + runtime.string() + "\n");

  auto once = run_process(s.nodeld({"--once"}));
  REQUIRE(once.exit_code == 0);
  auto report = decode_report(once.out);
  REQUIRE(report);
  const auto& jobs = report->raw.at("jobs").as_array();
  REQUIRE(jobs.size() == 1);
  CHECK(jobs.at(0).at("job_id").as_string() == "jit");
  CHECK(jobs.at(0).at("state").as_string() == "running");
  CHECK(std::filesystem::exists(job / "disk.qcow2"));

  BackgroundProcess nodeld(s.nodeld(), (s.t / "nodeld.log").string());
  int metrics_port = nodeld.wait_for_port("serving /metrics on 127.0.0.1:");
  REQUIRE(metrics_port > 0);
  REQUIRE(nodeld.wait_for_log("job cleanup: job jit"));
  std::string metrics = get_until(metrics_port, "/metrics", "smartvm_jobs_cleaned_total{node=\"node-it\"} 1");
  CHECK(metrics.find("smartvm_jobs_cleaned_total{node=\"node-it\"} 1\n") != std::string::npos);
  // The test driver's domains are persistent: destroyed, this one stays, shut off, and is no
  // orphan to destroy again.
  CHECK(metrics.find("smartvm_job_info{job_id=\"jit\",service=\"blast\",owner=\"alice\",state=\"shutoff\"") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(job));
  CHECK(std::filesystem::exists(s.t / "elsewhere" / "keep"));
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // more cycles: said and counted once
  std::string log = nodeld.log();
  CHECK(occurrences(log, "destroyed domain smartvm-jit") == 1);
  CHECK(occurrences(log, "removed " + job.string()) == 1);
  CHECK(http_get(metrics_port, "/metrics").find("smartvm_jobs_cleaned_total{node=\"node-it\"} 1\n") != std::string::npos);
  CHECK(nodeld.stop() == 0);
}
