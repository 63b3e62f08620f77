#include "node_report.hpp"

#include "catch_result.hpp"

using namespace smartvm;

namespace {
std::string report(const std::string& node = "n001", const std::string& extra_domain = "") {
  return R"({"schema":1,"node":")" + node + R"(","time":"2026-11-22T04:00:00Z","seq":7,"interval_seconds":5,
    "capacity":{"cpu_cores":64,"memory_kib":268435456},
    "domains":[{"name":"a","state":"running","vcpus":8,"memory_kib":16777216},
               {"name":"b","state":"paused","vcpus":4,"memory_kib":4194304},
               {"name":"c","state":"shutoff","vcpus":32,"memory_kib":134217728})" + extra_domain + "]}";
}
}  // namespace

TEST_CASE("a report decodes and its free capacity leaves out shut-off domains", "[report]") {
  auto r = decode_report(report());
  REQUIRE(r.has_value());
  CHECK(r->node == "n001");
  CHECK(r->seq == 7);
  CHECK(r->interval_seconds == 5);
  CHECK(r->domains.size() == 3);
  CHECK(r->free_cores() == 64 - 8 - 4);
  CHECK(r->free_memory_kib() == 268435456ull - 16777216 - 4194304);
  CHECK(r->raw.as_object().contains("capacity"));
}

TEST_CASE("an overcommitted node has nothing free, not a wrapped-around number", "[report]") {
  auto r = decode_report(report("n1", R"(,{"name":"d","state":"running","vcpus":100,"memory_kib":999999999999})"));
  REQUIRE(r.has_value());
  CHECK(r->free_cores() == 0);
  CHECK(r->free_memory_kib() == 0);
}

TEST_CASE("invalid reports are refused naming the field", "[report]") {
  auto msg = [](const std::string& json) { return decode_report(json).error().message; };
  CHECK(msg("nope").find("not JSON") == 0);
  CHECK(msg("[]") == "the report is not a JSON object");
  CHECK(msg(R"({"node":"x"})") == "schema: missing");
  CHECK(msg(R"({"schema":2})") == "schema: 2 is not a schema this frontend reads (1)");
  CHECK(msg(R"({"schema":1,"node":"bad name"})") == "node: \"bad name\" is not a node name ([A-Za-z0-9._-], 1 to 253)");
  CHECK(msg(R"({"schema":1,"node":"n","time":"yesterday"})") ==
        "time: \"yesterday\" is not a UTC time like 2026-11-22T02:00:00Z");
  CHECK(msg(R"({"schema":1,"node":"n","time":"2026-11-22T04:00:00Z","seq":-1})") == "seq: not a whole number >= 0");
  CHECK(msg(R"({"schema":1,"node":"n","time":"2026-11-22T04:00:00Z","seq":1,"interval_seconds":0})") ==
        "interval_seconds: must be 1 to 3600");
  CHECK(msg(R"({"schema":1,"node":"n","time":"2026-11-22T04:00:00Z","seq":1})") == "capacity: missing or not an object");
  CHECK(msg(R"({"schema":1,"node":"n","time":"2026-11-22T04:00:00Z","seq":1,"capacity":{"cpu_cores":1}})") ==
        "capacity.memory_kib: missing");
  CHECK(msg(R"({"schema":1,"node":"n","time":"2026-11-22T04:00:00Z","seq":1,"capacity":{"cpu_cores":1,"memory_kib":1},"domains":[{"name":"a","state":"running","vcpus":"8","memory_kib":1}]})") ==
        "domains[0].vcpus: not a whole number >= 0");
  CHECK(msg(std::string(kMaxReportBytes + 1, ' ')).find("larger than") != std::string::npos);
}
