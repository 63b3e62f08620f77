// Reports answered only once flushed, one flush for what arrived together (group commit).
#include "group_sync.hpp"
#include "http_api.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <optional>

using namespace smartvm;
using namespace smartvm::frontend;
namespace http = boost::beast::http;

namespace {

const std::string kToken = "0123456789abcdef-post";

Request post(const std::string& node, int seq) {
  Request req(http::verb::post, "/v1/reports", 11);
  req.set(http::field::authorization, "Bearer " + kToken);
  req.body() = R"({"schema":1,"node":")" + node + R"(","time":"2026-11-22T04:00:00Z","seq":)" + std::to_string(seq) +
               R"(,"capacity":{"cpu_cores":16,"memory_kib":16777216},"domains":[]})";
  req.prepare_payload();
  return req;
}

struct Site {
  Site() : store(NodeStore::open((t / "state.db").string()).value()), sync(io, store->log_path()) {
    ApiSettings s;
    s.post_token = kToken;
    api = std::make_unique<Api>(*store, s);
    api->set_group_sync(&sync);
  }
  test::TempDir t;
  boost::asio::io_context io;
  std::unique_ptr<NodeStore> store;
  GroupSync sync;
  std::unique_ptr<Api> api;
};

}  // namespace

TEST_CASE("group commit: a stored report is answered only after the log is flushed", "[group_sync]") {
  Site site;
  std::optional<Response> answer;
  site.api->handle_async(post("n1", 1), 1800000000, [&](Response r) { answer = std::move(r); });
  CHECK(!answer);  // committed, not yet flushed: no answer
  site.io.run();
  REQUIRE(answer);
  CHECK(answer->result() == http::status::ok);
  CHECK(answer->body() == "{\"stored\":true}\n");
  CHECK(site.sync.flushes() == 1);
}

TEST_CASE("group commit: reports that arrive together share a flush", "[group_sync]") {
  Site site;
  int answered = 0;
  for (int i = 0; i < 50; ++i)
    site.api->handle_async(post("n" + std::to_string(i), 1), 1800000000, [&](Response r) {
      CHECK(r.result() == http::status::ok);
      ++answered;
    });
  site.io.run();
  CHECK(answered == 50);
  // The first report's flush starts at once; the 49 that came while it ran share the next.
  CHECK(site.sync.flushes() == 2);
}

TEST_CASE("group commit: reads and reports not stored are answered at once", "[group_sync]") {
  Site site;
  site.api->handle_async(post("n1", 2), 1800000000, [](Response) {});
  site.io.run();
  site.io.restart();
  bool answered = false;
  site.api->handle_async(post("n1", 1), 1800000000, [&](Response r) {  // older: not stored
    CHECK(r.body() == "{\"stored\":false}\n");
    answered = true;
  });
  CHECK(answered);
  answered = false;
  site.api->handle_async(Request(http::verb::get, "/v1/nodes", 11), 1800000000, [&](Response) { answered = true; });
  CHECK(answered);
  CHECK(site.sync.flushes() == 1);
}

TEST_CASE("group commit: a log that cannot be flushed fails the answer, saying why", "[group_sync]") {
  test::TempDir t;
  boost::asio::io_context io;
  GroupSync sync(io, (t / "missing-wal").string());
  std::optional<Result<void>> got;
  sync.after_flush([&](Result<void> r) { got = r; });
  io.run();
  REQUIRE(got);
  REQUIRE(!*got);
  CHECK(got->error().message.find("missing-wal") != std::string::npos);
}
