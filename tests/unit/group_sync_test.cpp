// Reports answered only once flushed, one flush for what arrived together (group commit).
#include "group_sync.hpp"
#include "http_api.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <optional>
#include <vector>

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

// As main.cpp wires them: writes held in one transaction, committed right before each flush.
struct Site {
  explicit Site(uint64_t forget_after_seconds = 0)
      : store(NodeStore::open((t / "state.db").string()).value()),
        sync(io, store->log_path(), [this] { return store->commit(); }) {
    store->hold_commits(true);
    ApiSettings s;
    s.post_token = kToken;
    s.forget_after_seconds = forget_after_seconds;
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
  // The first report's flush starts at once; the 49 that came while it ran share the next,
  // and one commit: each page they touched went to the log once.
  CHECK(site.sync.flushes() == 2);
  CHECK(site.store->commits() == 2);
}

TEST_CASE("group commit: held writes are stored only once committed", "[group_sync]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  NodeReport r = decode_report(post("n1", 1).body()).value();
  {
    auto store = NodeStore::open(db).value();
    store->hold_commits(true);
    CHECK(store->put(r, 1800000000).value() == PutOutcome::stored);
    CHECK(store->get("n1", 1800000000).value());  // the writer sees its own open transaction
    CHECK(store->commits() == 0);
  }  // closed without a commit: rolled back, as in a crash before the flush
  {
    auto store = NodeStore::open(db).value();
    CHECK(!store->get("n1", 1800000000).value());
    store->hold_commits(true);
    store->put(r, 1800000000).value();
    REQUIRE(store->commit());
    CHECK(store->commits() == 1);
  }
  CHECK(NodeStore::open(db).value()->get("n1", 1800000000).value());
}

TEST_CASE("group commit: a commit that fails fails every answer that waited on it, saying why", "[group_sync]") {
  test::TempDir t;
  boost::asio::io_context io;
  auto store = NodeStore::open((t / "state.db").string()).value();
  GroupSync sync(io, store->log_path(), [] { return Result<void>(make_error("commit: disk full")); });
  std::vector<Result<void>> got;
  for (int i = 0; i < 3; ++i) sync.after_flush([&](Result<void> r) { got.push_back(r); });
  io.run();
  REQUIRE(got.size() == 3);
  for (const auto& r : got) CHECK((!r && r.error().message == "commit: disk full"));
  CHECK(sync.flushes() == 0);  // nothing committed: no flush
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

TEST_CASE("group commit: a request that forgets silent nodes is answered once that is durable", "[group_sync]") {
  Site site(3600);
  site.api->handle_async(post("n1", 1), 1800000000, [](Response) {});
  site.io.run();
  site.io.restart();
  std::optional<Response> answer;
  site.api->handle_async(Request(http::verb::get, "/v1/nodes", 11), 1800000000 + 3700,
                         [&](Response r) { answer = std::move(r); });
  CHECK(!answer);  // n1 forgotten in the open transaction: the answer waits for its commit and flush
  site.io.run();
  REQUIRE(answer);
  CHECK(answer->body() == "[]\n");
  CHECK(site.sync.flushes() == 2);
  CHECK(site.store->commits() == 2);
}
