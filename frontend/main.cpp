// smartvm-frontend: collects the nodes' reports and answers placement queries.
// See smartvm-frontend(8).
#include "http_api.hpp"
#include "http_server.hpp"
#include "log.hpp"
#include "smartvm_version.hpp"
#include "systemd_lazy.hpp"
#include "token_file.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "Usage: smartvm-frontend [--listen ADDR:PORT] [--db FILE] --token-file FILE [--read-token-file FILE]\n"
    "Collect smartvm nodes' reports, keep their newest state, answer placement queries.\n"
    "\n"
    "  --listen ADDR:PORT      where to serve HTTP (default 127.0.0.1:8650; port 0: any free port)\n"
    "  --db FILE               the SQLite state (default /var/lib/smartvm/frontend.db)\n"
    "  --token-file FILE       the bearer token nodes must send with POST /v1/reports\n"
    "  --read-token-file FILE  require this bearer token for reads too (default: reads are open)\n"
    "\n"
    "Endpoints: POST /v1/reports, GET /v1/nodes, GET /v1/nodes/NAME,\n"
    "GET /v1/placement?cores=N&memory_mib=M, GET /metrics, GET / (status page).\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace smartvm;
  log::init("smartvm-frontend");
  // A client that goes away mid-response must cost that response only, never the process.
  signal(SIGPIPE, SIG_IGN);
  std::string listen = "127.0.0.1:8650", db = "/var/lib/smartvm/frontend.db", token_file, read_token_file;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "smartvm-frontend: %s needs a value\nTry 'smartvm-frontend --help'.\n", a.c_str());
        std::exit(2);
      }
      out = args[++i];
    };
    if (a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("smartvm-frontend %s\n", kVersion);
      return 0;
    } else if (a == "--listen") {
      value(listen);
    } else if (a == "--db") {
      value(db);
    } else if (a == "--token-file") {
      value(token_file);
    } else if (a == "--read-token-file") {
      value(read_token_file);
    } else {
      std::fprintf(stderr, "smartvm-frontend: unknown argument \"%s\"\nTry 'smartvm-frontend --help'.\n", a.c_str());
      return 2;
    }
  }
  if (token_file.empty()) {
    std::fprintf(stderr, "smartvm-frontend: --token-file is required (nodes authenticate their reports with it)\n");
    return 2;
  }
  auto endpoint = parse_listen_address(listen);
  if (!endpoint) {
    log::error("--listen: " + endpoint.error().message);
    return 2;
  }
  frontend::ApiSettings settings;
  auto token = smartvm::read_token_file(token_file);
  if (!token) {
    log::error(token.error().message);
    return 1;
  }
  settings.post_token = *token;
  if (!read_token_file.empty()) {
    auto rt = smartvm::read_token_file(read_token_file);
    if (!rt) {
      log::error(rt.error().message);
      return 1;
    }
    settings.read_token = *rt;
  }
  auto store = frontend::NodeStore::open(db);
  if (!store) {
    log::error(store.error().message);
    return 1;
  }
  boost::asio::io_context io;
  frontend::Api api(**store, settings);
  HttpServer server(io, api);
  auto bound = server.listen(*endpoint);
  if (!bound) {
    log::error(bound.error().message);
    return 1;
  }
  log::notice("listening on " + bound->address().to_string() + ":" + std::to_string(bound->port()) + ", state in " + db);
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code&, int) {
    if (std::getenv("NOTIFY_SOCKET"))
      if (const systemd::Api* sd = systemd::api()) sd->notify(0, "STOPPING=1");
    server.stop();
    io.stop();
  });
  if (std::getenv("NOTIFY_SOCKET"))
    if (const systemd::Api* sd = systemd::api()) sd->notify(0, "READY=1");
  io.run();
  return 0;
}
