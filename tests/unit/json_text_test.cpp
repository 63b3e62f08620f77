#include "json_text.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>

using namespace smartvm;
namespace json = boost::json;

TEST_CASE("numbers come out as people write them", "[json_text]") {
  CHECK(json_text(json::value(48.74)) == "48.74");
  CHECK(json_text(json::value(3.33)) == "3.33");
  CHECK(json_text(json::value(0.25)) == "0.25");
  CHECK(json_text(json::value(3.0)) == "3");
  CHECK(json_text(json::value(-0.5)) == "-0.5");
  CHECK(json_text(json::value(1e300)) == "1e+300");
  CHECK(json_text(json::value(std::int64_t{-42})) == "-42");
  CHECK(json_text(json::value(std::numeric_limits<std::uint64_t>::max())) == "18446744073709551615");
  CHECK(json_text(json::value(std::nan(""))) == "null");
  CHECK(json_text(json::parse(R"({"load":[3.33,2.1,1.35],"cpu_use_percent":48.74})")) ==
        R"({"load":[3.33,2.1,1.35],"cpu_use_percent":48.74})");
}

TEST_CASE("strings and keys are escaped as JSON requires", "[json_text]") {
  json::value v = json::object{{"na\"me", "<script>\n\x01"}, {"empty", json::array{}}, {"o", json::object{}}};
  std::string text = json_text(v);
  CHECK(text == R"({"na\"me":"<script>\n\u0001","empty":[],"o":{}})");
  CHECK(json::parse(text) == v);
}

TEST_CASE("every double reads back exactly, and every document parses to its shape", "[json_text]") {
  // strtod is the reference: Boost.JSON 1.81's own parser may be one unit in the last place off.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> real(-1e6, 1e6);
  for (int i = 0; i < 10000; ++i) {
    double d = std::ldexp(real(rng), static_cast<int>(rng() % 600) - 300);
    std::string text = json_text(json::value(d));
    REQUIRE(std::strtod(text.c_str(), nullptr) == d);
  }
  json::value v = json::object{{"a", json::array{1.5, std::int64_t{-3}, std::uint64_t{1} << 63}}, {"b", true}, {"c", nullptr}};
  CHECK(json::parse(json_text(v)) == v);
}
