#include "options.hpp"

#include <catch2/catch.hpp>

using namespace smartvm;
using namespace smartvm::agent;

TEST_CASE("the agent's options follow the contract", "[options]") {
  auto p = parse_options({"--context", "/dev/sr0", "--power=none", "--dry-run", "--label", "CTX", "--context-wait", "5"});
  REQUIRE(p.action == ParsedOptions::Action::run);
  CHECK(p.options.context == "/dev/sr0");
  CHECK(p.options.power == PowerAction::none);
  CHECK(p.options.dry_run);
  CHECK(p.options.label == "CTX");
  CHECK(p.options.context_wait == std::chrono::seconds(5));
  CHECK(parse_options({}).options.label == "CONTEXT");
  CHECK(!parse_options({}).options.power);
  CHECK(parse_options({"--help"}).action == ParsedOptions::Action::help);
  CHECK(parse_options({"--version"}).action == ParsedOptions::Action::version);
}

TEST_CASE("bad options are usage errors that say what is wrong", "[options]") {
  CHECK(parse_options({"--power", "off"}).error == "--power: \"off\" is not one of none, poweroff, reboot, halt");
  CHECK(parse_options({"--context"}).error == "--context needs a path");
  CHECK(parse_options({"--frobnicate"}).error == "unknown argument \"--frobnicate\"");
  CHECK(parse_options({"--context-wait", "-1"}).action == ParsedOptions::Action::usage_error);
}
