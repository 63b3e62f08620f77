// The small helpers in common/base that replaced copies across the programs.
#include "backoff.hpp"
#include "log.hpp"
#include "parse_number.hpp"
#include "small_file.hpp"
#include "split_words.hpp"
#include "stop_signals.hpp"
#include "utc_time.hpp"

#include "catch_result.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdint>

using namespace smartvm;
using namespace std::chrono_literals;

TEST_CASE("parse_integer takes the whole string or nothing", "[base]") {
  CHECK(parse_integer<int>("42") == 42);
  CHECK(parse_integer<int>("-7") == -7);
  CHECK(parse_integer<uint32_t>("ff", 16) == 0xffu);
  CHECK(!parse_integer<int>(""));
  CHECK(!parse_integer<int>("12x"));
  CHECK(!parse_integer<int>(" 12"));
  CHECK(!parse_integer<uint8_t>("256"));
  CHECK(!parse_integer<unsigned>("-1"));
  CHECK(parse_integer<uint64_t>("18446744073709551615") == UINT64_MAX);
}

TEST_CASE("Backoff doubles from the first wait to the cap and starts over on success", "[base]") {
  Backoff<std::chrono::seconds> b(1s, 60s);
  CHECK(b.current() == 0s);
  CHECK(b.failed() == 1s);
  CHECK(b.failed() == 2s);
  for (int i = 0; i < 10; ++i) b.failed();
  CHECK(b.current() == 60s);
  b.succeeded();
  CHECK(b.current() == 0s);
  CHECK(b.failed() == 1s);
}

TEST_CASE("split_words splits on spaces, tabs and newlines, with no empty fields", "[base]") {
  CHECK(split_words("  8:0 rbps=max\twbps=10\n") == std::vector<std::string_view>{"8:0", "rbps=max", "wbps=10"});
  CHECK(split_words(" \n\t").empty());
}

TEST_CASE("stop_signals holds SIGTERM and SIGINT only", "[base]") {
  sigset_t s = stop_signals();
  CHECK(sigismember(&s, SIGTERM) == 1);
  CHECK(sigismember(&s, SIGINT) == 1);
  CHECK(sigismember(&s, SIGHUP) == 0);
}

TEST_CASE("write_kernel_file writes an existing file in one write and names the file in errors", "[base]") {
  test::TempDir dir;
  std::string file = dir / "io.max";
  auto missing = write_kernel_file(file, "8:0 rbps=1");  // it does not create files
  REQUIRE(!missing);
  CHECK(missing.error().message.find("open " + file) == 0);
  FILE* f = std::fopen(file.c_str(), "w");
  REQUIRE(f);
  std::fclose(f);
  auto written = write_kernel_file(file, "8:0 rbps=1");
  REQUIRE(written);
  CHECK(*read_small_file(file) == "8:0 rbps=1");
}

TEST_CASE("a Condition is said when it appears, changes and clears, never while it lasts", "[base]") {
  log::Condition c("libvirt connection", log::Level::warning);
  log::set_max_level(log::Level::error);  // keep the test's output quiet; update() still decides
  CHECK(!c.update(""));
  CHECK(c.update("refused"));
  CHECK(!c.update("refused"));
  CHECK(c.problem() == "refused");
  CHECK(c.update("timed out"));
  CHECK(c.update(""));
  CHECK(c.problem().empty());
  CHECK(!c.update(""));
  log::set_max_level(log::Level::info);
}

TEST_CASE("UTC times round-trip and nothing else is one", "[base]") {
  auto t = parse_utc("2026-11-22T02:00:00Z");
  REQUIRE(t);
  CHECK(format_utc(*t) == "2026-11-22T02:00:00Z");
  CHECK(!parse_utc("2026-02-30T00:00:00Z"));
  CHECK(!parse_utc("2026-11-22 02:00:00"));
}
