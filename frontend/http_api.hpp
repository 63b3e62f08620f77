// The frontend's HTTP API as a function from request to response (DESIGN.md, "The frontend
// contract"), so that every route, error and limit is tested without a socket; HttpServer
// (common/http_server.hpp) puts it on the network.
#pragma once

#include "group_sync.hpp"
#include "http_server.hpp"
#include "node_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace smartvm::frontend {

using Request = HttpRequest;
using Response = HttpResponse;
namespace http = boost::beast::http;

struct ApiSettings {
  std::string post_token;   // the token every node may post with ("" = none: per-node tokens only)
  std::string read_token;   // "" = reads are open
  std::string node_secret;  // the key of per-node tokens (node_token.hpp); "" = none
  size_t max_report_bytes = kMaxReportBytes;
  uint64_t forget_after_seconds = 0;  // forget nodes silent this long; 0 = never
};

// Who a report's bearer token speaks for: any node (the shared token) or one node.
struct Poster {
  std::optional<std::string> node;  // nullopt: the shared token
};

class Api : public HttpHandler {
 public:
  Api(NodeStore& store, ApiSettings settings) : store_(store), settings_(std::move(settings)) {}

  Response handle(const Request& req, int64_t now) override;
  // With a GroupSync, an answer to a request that wrote (a report stored, a node forgotten)
  // waits until the write is on disk; without one (unit tests), answers come at once.
  void handle_async(const Request& req, int64_t now, Reply reply) override;
  void set_group_sync(GroupSync* sync) { sync_ = sync; }
  // A report without a valid token is refused from its header, before its body is read.
  std::optional<Response> check_header(const Request& req) override;
  // For bodies the server refused before they were read (too large).
  Response refuse_oversized(unsigned version, bool keep_alive) override;
  size_t body_limit() const override { return settings_.max_report_bytes; }

 private:
  std::optional<Poster> authenticate(const Request& req) const;
  Response refuse(const Request& req, http::status status, const char* reason, const std::string& message);
  Response post_report(const Request& req, int64_t now);
  Response get_nodes(const Request& req, int64_t now);
  Response get_node(const Request& req, const std::string& name, int64_t now);
  Response get_placement(const Request& req, const std::string& query, int64_t now);
  Response get_metrics(const Request& req, int64_t now);
  Response get_status_page(const Request& req, const std::string& query, int64_t now);
  Response get_node_page(const Request& req, const std::string& name, int64_t now);
  Response get_history(const Request& req, const std::string& name, const std::string& query, int64_t now);
  Response delete_node(const Request& req, const std::string& name);
  Response get_dump(const Request& req);
  void forget_silent(int64_t now);

  NodeStore& store_;
  ApiSettings settings_;
  uint64_t reports_stored_ = 0;
  std::map<std::string, uint64_t> rejected_;  // reason -> count
  GroupSync* sync_ = nullptr;
  bool wrote_ = false;  // the request being handled changed the database
  int64_t last_forget_check_ = 0;
  uint64_t nodes_forgotten_ = 0;
};

// Constant-time comparison of a request's "Authorization: Bearer TOKEN" with `token`.
bool bearer_matches(const Request& req, const std::string& token);

}  // namespace smartvm::frontend
