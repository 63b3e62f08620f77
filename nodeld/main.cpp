// nodeld: makes a hypervisor host report its load to smartvm-frontend. See nodeld(8).
#include "daemon.hpp"
#include "log.hpp"
#include "nodeld_config.hpp"
#include "smartvm_version.hpp"

#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "Usage: nodeld [--config FILE] [--once | --check-config] [--verbose]\n"
    "Report this hypervisor host's load, domains and RDMA ports to smartvm-frontend, and serve\n"
    "them as Prometheus metrics.\n"
    "\n"
    "  --config FILE    the configuration (default /etc/smartvm/nodeld.ini)\n"
    "  --once           collect one report, print it as JSON on standard output, exit\n"
    "  --check-config   check the configuration, print each problem as FILE:LINE: MESSAGE,\n"
    "                   exit 1 if there is an error\n"
    "  --verbose        log every domain event and delivery\n"
    "  --help, --version\n"
    "\n"
    "SIGHUP reloads the configuration (a bad one is refused and the running one stays).\n"
    "On the system bus: org.smartvm.Nodeld1 GetReport and Reload, for root only.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace smartvm;
  log::init("nodeld");
  // libvirt's client writes to libvirtd's socket with write(2): when libvirtd dies between a
  // call and its reply, that write raises SIGPIPE, whose default action would end nodeld
  // without a word. libvirt asks its applications to ignore it; the failed call then reports
  // EPIPE and the source reconnects.
  signal(SIGPIPE, SIG_IGN);
  std::string config_path = "/etc/smartvm/nodeld.ini";
  bool once = false, check = false, verbose = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("nodeld %s\n", kVersion);
      return 0;
    } else if (a == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--once") {
      once = true;
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::fprintf(stderr, "nodeld: %s \"%s\"\nTry 'nodeld --help'.\n",
                   a == "--config" ? "missing value for" : "unknown argument", a.c_str());
      return 2;
    }
  }
  if (once && check) {
    std::fprintf(stderr, "nodeld: --once and --check-config exclude each other\n");
    return 2;
  }
  log::set_max_level(verbose ? log::Level::debug : log::Level::notice);

  nodeld::LoadedConfig loaded = nodeld::load_nodeld_config_file(config_path);
  if (check) {
    for (const Diagnostic& d : loaded.diagnostics) std::printf("%s\n", d.format().c_str());
    if (has_errors(loaded.diagnostics)) return 1;
    std::printf("%s: OK\n", config_path.c_str());
    return 0;
  }
  for (const Diagnostic& d : loaded.diagnostics)
    (d.severity == Diagnostic::Severity::error ? log::error : log::warning)(d.format());
  if (has_errors(loaded.diagnostics)) {
    log::error("not starting: " + config_path + " has errors (nodeld --check-config lists them)");
    return 1;
  }

  boost::asio::io_context io;
  nodeld::DaemonOptions options;
  options.config_path = config_path;
  options.control_bus = !once;
  options.act = !once;
  nodeld::Daemon daemon(io, std::move(loaded.config), std::move(options));
  if (once) {
    std::string report;
    daemon.collect_once([&](const std::string& r) {
      report = r;
      io.stop();
    });
    io.run();
    std::printf("%s\n", report.c_str());
    std::fflush(stdout);
    // A source that hangs (libvirtd not answering) is reported stale; do not wait for it.
    if (daemon.sources_busy()) _exit(0);
    return 0;
  }
  if (auto r = daemon.start(); !r) {
    log::error(r.error().message);
    return 1;
  }
  log::notice("started (" + std::string(kVersion) + ")");
  io.run();
  if (daemon.sources_busy()) {
    log::warning("a source is still busy; exiting without waiting for it");
    _exit(0);
  }
  return 0;
}
