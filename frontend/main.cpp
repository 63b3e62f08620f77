// smartvm-frontend: collects the nodes' reports and answers placement queries.
// See smartvm-frontend(8).
#include "http_api.hpp"
#include "config_reader.hpp"
#include "http_server.hpp"
#include "log.hpp"
#include "node_token.hpp"
#include "smartvm_version.hpp"
#include "systemd_lazy.hpp"
#include "token_file.hpp"
#include "parse_number.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "Usage: smartvm-frontend [--listen ADDR:PORT] [--db FILE] [--token-file FILE] [--node-secret-file FILE]\n"
    "                        [--read-token-file FILE] [--max-nodes N] [--max-report-kib N]\n"
    "                        [--max-connections N] [--header-timeout SECONDS] [--forget-after TIME]\n"
    "       smartvm-frontend --node-secret-file FILE --node-token NAME\n"
    "Collect smartvm nodes' reports, keep their newest state, answer placement queries.\n"
    "\n"
    "  --listen ADDR:PORT        where to serve HTTP (default 127.0.0.1:8650; port 0: any free port)\n"
    "  --db FILE                 the SQLite state (default /var/lib/smartvm/frontend.db)\n"
    "  --token-file FILE         a bearer token every node may post reports with\n"
    "  --node-secret-file FILE   the key of per-node tokens: each node posts with its own, for itself only\n"
    "  --node-token NAME         print NAME's token (for its token_file) and exit\n"
    "  --read-token-file FILE    require this bearer token for reads too (default: reads are open)\n"
    "  --max-nodes N             keep at most N nodes; reports of new ones past it are refused (default 2000);\n"
    "                            the database's cache holds 16 KiB per node (32 MiB by default)\n"
    "  --max-report-kib N        refuse larger reports (default 1024, at most 4096)\n"
    "  --max-connections N       serve at most N connections at once (default: the file limit minus 64)\n"
    "  --header-timeout SECONDS  close a connection whose request header takes longer (default 10)\n"
    "  --forget-after TIME       forget nodes silent this long, with their history (90, 30m, 12h, 7d;\n"
    "                            default: never; DELETE /v1/nodes/NAME forgets one at once)\n"
    "\n"
    "Endpoints: POST /v1/reports, GET /v1/nodes, GET /v1/nodes/NAME, GET /v1/nodes/NAME/history?since=T,\n"
    "DELETE /v1/nodes/NAME,\n"
    "GET /v1/placement?cores=N&memory_mib=M, GET /metrics, GET / and /nodes/NAME (status pages).\n";

// A whole number from `lo` to `hi` for option `name`, or exit 2 saying what is accepted.
uint64_t number_option(const std::string& name, const std::string& v, uint64_t lo, uint64_t hi) {
  auto n = smartvm::parse_integer<uint64_t>(v);
  if (!n || *n < lo || *n > hi) {
    std::fprintf(stderr, "smartvm-frontend: %s: \"%s\" is not a whole number from %llu to %llu\n", name.c_str(), v.c_str(),
                 static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi));
    std::exit(2);
  }
  return *n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace smartvm;
  log::init("smartvm-frontend");
  // A client that goes away mid-response must cost that response only, never the process.
  signal(SIGPIPE, SIG_IGN);
  std::string listen = "127.0.0.1:8650", db = "/var/lib/smartvm/frontend.db", token_file, read_token_file;
  std::string node_secret_file, print_token_for, number;
  size_t max_nodes = frontend::kDefaultMaxNodes;
  size_t max_report_bytes = 1024 << 10;
  uint64_t forget_after = 0;
  HttpServerLimits limits;
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
    } else if (a == "--node-secret-file") {
      value(node_secret_file);
    } else if (a == "--node-token") {
      value(print_token_for);
    } else if (a == "--max-nodes") {
      value(number);
      max_nodes = number_option(a, number, 1, 1000000);
    } else if (a == "--max-report-kib") {
      value(number);
      max_report_bytes = number_option(a, number, 1, kMaxReportBytes >> 10) << 10;
    } else if (a == "--max-connections") {
      value(number);
      limits.max_sessions = number_option(a, number, 1, 1000000);
    } else if (a == "--header-timeout") {
      value(number);
      limits.header_timeout = std::chrono::seconds(number_option(a, number, 1, 3600));
    } else if (a == "--forget-after") {
      value(number);
      auto d = parse_duration(number);
      if (!d || *d == 0) {
        std::fprintf(stderr, "smartvm-frontend: --forget-after: \"%s\" is not a length of time (90, 30m, 12h, 7d)\n",
                     number.c_str());
        return 2;
      }
      forget_after = *d;
    } else {
      std::fprintf(stderr, "smartvm-frontend: unknown argument \"%s\"\nTry 'smartvm-frontend --help'.\n", a.c_str());
      return 2;
    }
  }
  frontend::ApiSettings settings;
  settings.max_report_bytes = max_report_bytes;
  settings.forget_after_seconds = forget_after;
  if (!node_secret_file.empty()) {
    auto secret = smartvm::read_token_file(node_secret_file);
    if (!secret) {
      log::error(secret.error().message);
      return 1;
    }
    settings.node_secret = *secret;
  }
  if (!print_token_for.empty()) {
    if (settings.node_secret.empty()) {
      std::fprintf(stderr, "smartvm-frontend: --node-token needs --node-secret-file (the key the token is made with)\n");
      return 2;
    }
    if (!valid_node_name(print_token_for)) {
      std::fprintf(stderr, "smartvm-frontend: --node-token: \"%s\" is not a node name ([A-Za-z0-9._-], 1 to 253)\n",
                   print_token_for.c_str());
      return 2;
    }
    std::printf("%s\n", frontend::node_token(settings.node_secret, print_token_for).c_str());
    return 0;
  }
  if (token_file.empty() && node_secret_file.empty()) {
    std::fprintf(stderr,
                 "smartvm-frontend: --token-file or --node-secret-file is required (nodes authenticate their reports "
                 "with them)\n");
    return 2;
  }
  auto endpoint = parse_listen_address(listen);
  if (!endpoint) {
    log::error("--listen: " + endpoint.error().message);
    return 2;
  }
  if (!token_file.empty()) {
    auto token = smartvm::read_token_file(token_file);
    if (!token) {
      log::error(token.error().message);
      return 1;
    }
    settings.post_token = *token;
  }
  if (!read_token_file.empty()) {
    auto rt = smartvm::read_token_file(read_token_file);
    if (!rt) {
      log::error(rt.error().message);
      return 1;
    }
    settings.read_token = *rt;
  }
  auto store = frontend::NodeStore::open(db, max_nodes);
  if (!store) {
    log::error(store.error().message);
    return 1;
  }
  boost::asio::io_context io;
  frontend::Api api(**store, settings);
  // Reports that arrive while the log is being flushed are one transaction, committed before
  // the next flush.
  (*store)->hold_commits(true);
  frontend::GroupSync sync(io, (*store)->log_path(), [&store] { return (*store)->commit(); });
  api.set_group_sync(&sync);
  HttpServer server(io, api, limits, log::to_log());
  auto bound = server.listen(*endpoint);
  if (!bound) {
    log::error(bound.error().message);
    return 1;
  }
  log::notice("listening on " + bound->address().to_string() + ":" + std::to_string(bound->port()) + ", state in " + db +
              ", at most " + std::to_string(effective_max_sessions(limits)) + " connections");
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
