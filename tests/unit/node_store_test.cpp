#include "node_store.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

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
}  // namespace

TEST_CASE("the store keeps the newest report of each node, across restarts", "[store]") {
  test::TempDir t;
  std::string db = (t / "state.db").string();
  {
    auto s = NodeStore::open(db);
    REQUIRE(s.has_value());
    CHECK((*s)->put(make("n1", "2026-11-22T04:00:10Z", 2, 16, 1000), 1000).value());
    // A retry of an older report arriving late changes nothing.
    CHECK(!(*s)->put(make("n1", "2026-11-22T04:00:00Z", 1, 16, 1000, 8), 1001).value());
    CHECK((*s)->put(make("n2", "2026-11-22T04:00:00Z", 1, 8, 1000), 1000).value());
  }
  auto s = NodeStore::open(db);
  REQUIRE(s.has_value());
  auto nodes = (*s)->list(1005).value();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].name == "n1");
  CHECK(nodes[0].free_cores == 16);
  CHECK(nodes[0].received_at == 1000);
  CHECK((*s)->get("n2", 1005).value()->capacity_cores == 8);
  CHECK(!(*s)->get("n3", 1005).value());
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
