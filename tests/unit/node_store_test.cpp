#include "node_store.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <sqlite3.h>

using namespace smartvm;
using namespace smartvm::frontend;

namespace {
NodeReport make(const std::string& node, const std::string& time, uint64_t seq, uint64_t cores, uint64_t mem_mib,
                uint64_t used_cores = 0) {
  std::string json = R"({"schema":1,"node":")" + node + R"(","time":")" + time + R"(","seq":)" + std::to_string(seq) +
                     R"(,"interval_seconds":10,"capacity":{"cpu_cores":)" + std::to_string(cores) +
                     R"(,"memory_kib":)" + std::to_string(mem_mib * 1024) + R"(},"domains":[{"name":"d","state":"running","vcpus":)" +
                     std::to_string(used_cores) + R"(,"memory_kib":0}]})";
  return decode_report(json).value();
}

NodeReport with_boot(NodeReport r, const std::string& boot_id) {
  r.boot_id = boot_id;
  return r;
}

constexpr int64_t kNow = 1795320000;  // 2026-11-22T04:00:00Z
}  // namespace

TEST_CASE("the store keeps the newest report of each node, across restarts", "[store]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  {
    auto s = NodeStore::open(db);
    REQUIRE(s.has_value());
    CHECK((*s)->put(make("n1", "2026-11-22T04:00:10Z", 2, 16, 1000), kNow + 10).value() == PutOutcome::stored);
    // A retry of an older report arriving late changes nothing.
    CHECK((*s)->put(make("n1", "2026-11-22T04:00:00Z", 1, 16, 1000, 8), kNow + 11).value() == PutOutcome::older);
    CHECK((*s)->put(make("n2", "2026-11-22T04:00:00Z", 1, 8, 1000), kNow).value() == PutOutcome::stored);
  }
  auto s = NodeStore::open(db);
  REQUIRE(s.has_value());
  auto nodes = (*s)->list(kNow + 15).value();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].name == "n1");
  CHECK(nodes[0].free_cores == 16);
  CHECK(nodes[0].received_at == kNow + 10);
  CHECK((*s)->get("n2", kNow + 15).value()->capacity_cores == 8);
  CHECK(!(*s)->get("n3", kNow + 15).value());
}

TEST_CASE("a node is stale after three of its intervals without a report", "[store]") {
  test::TempDir t;
  auto s = NodeStore::open((t / "state.db").string()).value();
  s->put(make("n1", "2026-11-22T04:00:00Z", 1, 16, 1000), 1000).value();
  CHECK(!s->get("n1", 1030).value()->stale);
  CHECK(s->get("n1", 1031).value()->stale);
  CHECK(s->placement(1, 1, 1031).value().empty());  // stale nodes are never placed on
}

TEST_CASE("placement lists the nodes that fit, best fit first", "[store]") {
  test::TempDir t;
  auto s = NodeStore::open((t / "state.db").string()).value();
  s->put(make("big", "2026-11-22T04:00:00Z", 1, 64, 262144), 1000).value();
  s->put(make("snug", "2026-11-22T04:00:00Z", 1, 16, 65536, 8), 1000).value();  // 8 cores free
  s->put(make("small", "2026-11-22T04:00:00Z", 1, 4, 8192), 1000).value();
  s->put(make("tie", "2026-11-22T04:00:00Z", 1, 8, 131072), 1000).value();     // 8 cores, more memory
  std::vector<std::string> order;
  for (const auto& n : s->placement(8, 32768, 1000).value()) order.push_back(n.name);
  CHECK(order == std::vector<std::string>{"snug", "tie", "big"});
  CHECK(s->placement(65, 1, 1000).value().empty());
}

TEST_CASE("a database that cannot be opened is a clear error", "[store]") {
  auto s = NodeStore::open("/nonexistent-dir/state.db");
  REQUIRE(!s);
  CHECK(s.error().message.find("open the database /nonexistent-dir/state.db") == 0);
}

TEST_CASE("store: a second frontend on the same database is refused, saying why", "[store]") {
  test::TempDir t;
  auto first = frontend::NodeStore::open((t / "state.db").string());
  REQUIRE(first);
  auto second = frontend::NodeStore::open((t / "state.db").string());
  REQUIRE(!second);
  CHECK(second.error().message.find("in use by another process") != std::string::npos);
}

TEST_CASE("store: a time from the future outranks nothing: clamped on arrival, replaced when stored", "[store]") {
  test::TempDir t;
  auto s = NodeStore::open((t / "state.db").string()).value();
  // A clock 4 minutes ahead: stored, but ranked as made when it arrived.
  CHECK(s->put(make("n1", "2026-11-22T04:04:00Z", 5, 16, 1000), kNow).value() == PutOutcome::stored);
  CHECK(s->put(make("n1", "2026-11-22T04:00:10Z", 6, 16, 1000), kNow + 10).value() == PutOutcome::stored);
  // A late retry of an older report still changes nothing.
  CHECK(s->put(make("n1", "2026-11-22T04:00:05Z", 5, 16, 1000), kNow + 11).value() == PutOutcome::older);
}

TEST_CASE("store: a future time already stored (by an older frontend) is replaced", "[store]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  {
    auto s = NodeStore::open(db).value();
    REQUIRE(s->put(make("n1", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow).value() == PutOutcome::stored);
  }
  // What the frontend before this fix stored for a node whose clock said 2261.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "UPDATE nodes SET report_time = '2261-01-01T00:00:00Z'", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  auto s = NodeStore::open(db).value();
  CHECK(s->put(make("n1", "2026-11-22T04:00:10Z", 2, 16, 1000, 8), kNow + 10).value() == PutOutcome::stored);
  CHECK(s->get("n1", kNow + 10).value()->free_cores == 8);
}

TEST_CASE("store: a report from another boot of the node is newer whatever its time", "[store]") {
  test::TempDir t;
  auto s = NodeStore::open((t / "state.db").string()).value();
  CHECK(s->put(with_boot(make("n1", "2026-11-22T04:00:00Z", 900, 16, 1000), "boot-a"), kNow).value() == PutOutcome::stored);
  // Rebooted with its clock behind: seq starts again, the time is earlier.
  CHECK(s->put(with_boot(make("n1", "2026-11-22T03:00:00Z", 1, 16, 1000, 4), "boot-b"), kNow + 60).value() ==
        PutOutcome::stored);
  CHECK(s->get("n1", kNow + 60).value()->free_cores == 12);
  CHECK(s->put(with_boot(make("n1", "2026-11-22T02:59:59Z", 1, 16, 1000), "boot-b"), kNow + 61).value() ==
        PutOutcome::older);
}

TEST_CASE("store: at most max_nodes names are kept", "[store]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  {
    auto s = NodeStore::open(db, 2).value();
    CHECK(s->put(make("a", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow).value() == PutOutcome::stored);
    CHECK(s->put(make("b", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow).value() == PutOutcome::stored);
    CHECK(s->put(make("c", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow).value() == PutOutcome::full);
    CHECK(s->put(make("a", "2026-11-22T04:00:10Z", 2, 16, 1000), kNow + 10).value() == PutOutcome::stored);
  }
  auto s = NodeStore::open(db, 2).value();  // counted from the database, across restarts
  CHECK(s->put(make("c", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow).value() == PutOutcome::full);
  CHECK(s->list(kNow).value().size() == 2);
}

TEST_CASE("store: lists leave the reports out, get has it", "[store]") {
  test::TempDir t;
  auto s = NodeStore::open((t / "state.db").string()).value();
  REQUIRE(s->put(make("a", "2026-11-22T04:00:00Z", 1, 16, 1000), kNow, R"({"running":1})").value() == PutOutcome::stored);
  auto listed = s->list(kNow).value();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].report.empty());
  CHECK(listed[0].summary == R"({"running":1})");
  CHECK(!s->get("a", kNow).value()->report.empty());
}

TEST_CASE("store: a database of the first layout is carried over, its nodes kept", "[store]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw,
                       "CREATE TABLE nodes (name TEXT PRIMARY KEY, received_at INTEGER NOT NULL, interval_seconds INTEGER "
                       "NOT NULL, seq INTEGER NOT NULL, report_time TEXT NOT NULL, free_cores INTEGER NOT NULL, "
                       "free_memory_kib INTEGER NOT NULL, capacity_cores INTEGER NOT NULL, capacity_memory_kib INTEGER "
                       "NOT NULL, report TEXT NOT NULL);"
                       "INSERT INTO nodes VALUES ('old', 1795320000, 10, 7, '2026-11-22T04:00:00Z', 4, 1024, 8, 2048, '{}')",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  auto s = NodeStore::open(db).value();
  auto old = s->get("old", kNow).value();
  REQUIRE(old);
  CHECK(old->free_cores == 4);
  CHECK(old->summary == "{}");
  CHECK(s->put(make("old", "2026-11-22T04:00:10Z", 8, 16, 1000), kNow + 10).value() == PutOutcome::stored);
  s.reset();
  CHECK(NodeStore::open(db).value()->get("old", kNow + 10).value()->capacity_cores == 16);  // opened again: no copy
}
