// The frontend's HTTP API as a function from request to response (DESIGN.md, "The frontend
// contract"), so that every route, error and limit is tested without a socket; HttpServer
// (common/http_server.hpp) puts it on the network.
#pragma once

#include "http_server.hpp"
#include "node_store.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace smartvm::frontend {

using Request = HttpRequest;
using Response = HttpResponse;

struct ApiSettings {
  std::string post_token;  // required for POST /v1/reports
  std::string read_token;  // "" = reads are open
};

class Api : public HttpHandler {
 public:
  Api(NodeStore& store, ApiSettings settings) : store_(store), settings_(std::move(settings)) {}

  Response handle(const Request& req, int64_t now) override;
  // For bodies the server refused before they were read (too large).
  Response refuse_oversized(unsigned version, bool keep_alive) override;
  size_t body_limit() const override { return kMaxReportBytes; }

 private:
  Response post_report(const Request& req, int64_t now);
  Response get_nodes(const Request& req, int64_t now);
  Response get_node(const Request& req, const std::string& name, int64_t now);
  Response get_placement(const Request& req, const std::string& query, int64_t now);
  Response get_metrics(const Request& req, int64_t now);
  Response get_status_page(const Request& req, int64_t now);

  NodeStore& store_;
  ApiSettings settings_;
  uint64_t reports_stored_ = 0;
  std::map<std::string, uint64_t> rejected_;  // reason -> count
};

// Constant-time comparison of a request's "Authorization: Bearer TOKEN" with `token`.
bool bearer_matches(const Request& req, const std::string& token);

}  // namespace smartvm::frontend
