#include "confined_path.hpp"

#include "catch_result.hpp"

using namespace smartvm;

TEST_CASE("relative paths are normalized inside the repository", "[paths]") {
  CHECK(*confine_relative("", "runs/42") == "runs/42");
  CHECK(*confine_relative("", "./runs//42/") == "runs/42");
  CHECK(*confine_relative("", ".") == "");
  CHECK(*confine_relative("runs/42", "stdout.log") == "runs/42/stdout.log");
  CHECK(*confine_relative("runs/42", "../shared/log") == "runs/shared/log");
  CHECK(*confine_relative("runs/42", "../../x") == "x");
}

TEST_CASE("paths that escape the repository are refused", "[paths]") {
  CHECK(confine_relative("", "..").error().message == "\"..\" escapes the repository through \"..\"");
  CHECK(!confine_relative("", "a/../../b"));
  CHECK(!confine_relative("runs/42", "../../../etc/passwd"));
  CHECK(confine_relative("", "/etc/passwd").error().message ==
        "\"/etc/passwd\" is absolute; give a path relative to the repository");
  CHECK(!confine_relative("", std::string("a\0b", 3)));
}
