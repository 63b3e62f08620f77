// The job's user and group, looked up in this machine's own user database (Debian's nobody,
// daemon and root are in every base system).
#include "credentials.hpp"

#include "catch_result.hpp"

using namespace smartvm;
using namespace smartvm::agent;

namespace {
JobSpec job(std::string user, std::string group = "", bool allow_root = false) {
  JobSpec s;
  s.user = std::move(user);
  s.group = std::move(group);
  s.allow_root = allow_root;
  return s;
}
}  // namespace

TEST_CASE("a user is found by name or by number", "[credentials]") {
  auto by_name = lookup_credentials(job("nobody"));
  REQUIRE(by_name);
  auto by_number = lookup_credentials(job("65534"));
  REQUIRE(by_number);
  CHECK(by_number->user == "nobody");
  CHECK(by_number->uid == by_name->uid);
  CHECK(by_number->gid == by_name->gid);
  CHECK(by_number->home == by_name->home);
}

TEST_CASE("a group is found by name or by number", "[credentials]") {
  auto by_name = lookup_credentials(job("nobody", "daemon"));
  REQUIRE(by_name);
  CHECK(by_name->gid == 1);
  auto by_number = lookup_credentials(job("nobody", "1"));
  REQUIRE(by_number);
  CHECK(by_number->gid == 1);
}

TEST_CASE("unknown users and groups are refused by name", "[credentials]") {
  CHECK(lookup_credentials(job("no-such-user-here")).error().message ==
        "[job] user: no user \"no-such-user-here\" in this guest's user database");
  CHECK(lookup_credentials(job("4000000")).error().message ==
        "[job] user: no user \"4000000\" in this guest's user database");
  CHECK(lookup_credentials(job("nobody", "no-such-group")).error().message ==
        "[job] group: no group \"no-such-group\" in this guest's group database");
}

TEST_CASE("root's uid and gid need allow_root however they are named", "[credentials]") {
  CHECK(lookup_credentials(job("root")).error().message ==
        "[job] user: \"root\" is root; set [job] allow_root = true to allow that");
  CHECK(!lookup_credentials(job("0")));
  CHECK(lookup_credentials(job("nobody", "root")).error().message ==
        "[job] group: \"root\" is root (gid 0); set [job] allow_root = true to allow that");
  CHECK(!lookup_credentials(job("nobody", "0")));
  auto allowed = lookup_credentials(job("nobody", "root", true));
  REQUIRE(allowed);
  CHECK(allowed->gid == 0);
  CHECK(lookup_credentials(job("root", "", true)));
}
