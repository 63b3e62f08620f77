#include "catch_result.hpp"
#include "nodeld_config.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

using namespace smartvm;
using namespace smartvm::nodeld;

namespace {

std::vector<std::string> errors(const LoadedConfig& c) {
  std::vector<std::string> out;
  for (const auto& d : c.diagnostics) out.push_back(d.format());
  return out;
}

LoadedConfig load(const std::string& text) { return load_nodeld_config(IniDocument::parse(text, "nodeld.ini"), false); }

}  // namespace

TEST_CASE("nodeld: an empty configuration means the documented defaults", "[nodeld][config]") {
  auto c = load("");
  REQUIRE(c.diagnostics.empty());
  CHECK(!c.config.name.empty());  // the host name
  CHECK(c.config.libvirt_uri == "qemu:///system");
  CHECK(c.config.interval == std::chrono::seconds(10));
  CHECK(!c.config.frontend);
  CHECK(c.config.metrics_listen == "127.0.0.1:9650");
  CHECK(c.config.ipoib_interface == "ib0");
  CHECK(c.config.guest_interfaces == std::vector<std::string>{"vif*"});
  CHECK(c.config.throttle_enabled);
  CHECK(c.config.throttle_mode == ThrottleMode::adaptive);
  CHECK(c.config.target_io_pressure == 10);
  CHECK(c.config.source_deadline() == std::chrono::seconds(5));
}

TEST_CASE("nodeld: the example configuration is valid and says what it means", "[nodeld][config]") {
  auto doc = IniDocument::parse(test::read_file(SMARTVM_SOURCE_DIR "/examples/nodeld.ini"), "nodeld.ini");
  auto c = load_nodeld_config(doc, false);
  INFO(Catch::Detail::stringify(errors(c)));
  CHECK(c.diagnostics.empty());
  REQUIRE(c.config.frontend);
  CHECK(c.config.frontend->host == "frontend.example");
  CHECK(c.config.frontend->port == "8650");
  CHECK(c.config.frontend->target == "/v1/reports");
}

TEST_CASE("nodeld: every bad value is reported with file and line, all at once", "[nodeld][config]") {
  auto c = load(
      "[node]\n"
      "name = bad name!\n"
      "interval = 0\n"
      "libvirt_uri = nonsense\n"
      "[report]\n"
      "frontend = ftp://frontend/v1/reports\n"
      "metrics_listen = localhost\n"
      "[ipoib]\n"
      "interface = ib*\n"
      "guests = vif1.0=10.10.0.5 vif2.0=300.1.1.1 junk\n"
      "guest_subnet = 10.10.0.1/24\n"
      "repository_probe = 10.10.0.1\n"
      "mode = bridge\n"
      "[throttle]\n"
      "mode = sometimes\n"
      "target_io_pressure = 0\n"
      "read_bytes_sec = lots\n"
      "colour = blue\n");
  auto e = errors(c);
  INFO(Catch::Detail::stringify(e));
  CHECK(has_errors(c.diagnostics));
  auto has = [&](const std::string& prefix, const std::string& words) {
    return std::any_of(e.begin(), e.end(), [&](const std::string& s) {
      return s.rfind(prefix, 0) == 0 && s.find(words) != std::string::npos;
    });
  };
  CHECK(has("nodeld.ini:2:", "not a node name"));
  CHECK(has("nodeld.ini:3:", "interval"));
  CHECK(has("nodeld.ini:4:", "not a libvirt URI"));
  CHECK(has("nodeld.ini:6:", "only http://"));
  CHECK(has("nodeld.ini:7:", "not ADDRESS:PORT"));
  CHECK(has("nodeld.ini:9:", "not an interface name"));
  CHECK(has("nodeld.ini:10:", "vif2.0=300.1.1.1"));
  CHECK(has("nodeld.ini:10:", "\"junk\""));
  CHECK(has("nodeld.ini:11:", "not an IPv4 network"));
  CHECK(has("nodeld.ini:12:", "not HOST:PORT"));
  CHECK(has("nodeld.ini:13:", "mode"));
  CHECK(has("nodeld.ini:15:", "mode"));
  CHECK(has("nodeld.ini:16:", "target_io_pressure"));
  CHECK(has("nodeld.ini:17:", "read_bytes_sec"));
  CHECK(has("nodeld.ini:18:", "colour"));  // unknown: a warning
  REQUIRE(c.config.static_guests.size() == 1);
  CHECK(c.config.static_guests[0].interface == "vif1.0");
}

TEST_CASE("nodeld: the frontend's token is read when the configuration is loaded, and must be private",
          "[nodeld][config]") {
  test::TempDir t;
  std::string token = (t / "token").string();
  std::string ini = "[report]\nfrontend = http://127.0.0.1:8650/v1/reports\ntoken_file = " + token + "\n";
  test::write_file(t / "nodeld.ini", ini);
  auto missing = load_nodeld_config_file((t / "nodeld.ini").string());
  REQUIRE(has_errors(missing.diagnostics));
  CHECK(missing.diagnostics[0].format().find(":3: [report] token_file") != std::string::npos);

  test::write_file(token, "0123456789abcdef0123\n");
  chmod(token.c_str(), 0644);
  auto public_token = load_nodeld_config_file((t / "nodeld.ini").string());
  REQUIRE(has_errors(public_token.diagnostics));
  CHECK(public_token.diagnostics[0].message.find("readable by everyone") != std::string::npos);

  chmod(token.c_str(), 0600);
  auto good = load_nodeld_config_file((t / "nodeld.ini").string());
  CHECK(good.diagnostics.empty());
  CHECK(good.config.token == "0123456789abcdef0123");

  auto absent = load_nodeld_config_file((t / "absent.ini").string());
  REQUIRE(absent.diagnostics.size() == 1);
  CHECK(absent.diagnostics[0].format().find("absent.ini") != std::string::npos);
}

TEST_CASE("nodeld: frontend URLs", "[nodeld][config]") {
  auto v6 = parse_http_url("http://[::1]:9000/v1/reports?x=1");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == "9000");
  CHECK(v6->target == "/v1/reports?x=1");
  auto plain = parse_http_url("http://frontend/");
  REQUIRE(plain);
  CHECK(plain->port == "80");
  CHECK(!parse_http_url("https://frontend/v1/reports"));
  CHECK(!parse_http_url("http://user:pw@frontend/v1/reports"));
  CHECK(!parse_http_url("not a url"));
}

TEST_CASE("nodeld: [jobs] names the runtime directory, never one nodeld could empty the host from", "[nodeld][config]") {
  auto defaults = load("");
  CHECK(defaults.config.jobs_runtime_dir == "/run/smartvm/jobs");
  CHECK(defaults.config.jobs_cleanup);
  auto c = load("[jobs]\nruntime_dir = /srv/smartvm//jobs/\ncleanup = false\n");
  REQUIRE(c.diagnostics.empty());
  CHECK(c.config.jobs_runtime_dir == "/srv/smartvm/jobs");
  CHECK(!c.config.jobs_cleanup);
  for (const char* bad : {"/", "/run", "run/smartvm/jobs", "/run/..", "/run/smartvm/../.."}) {
    auto b = load(std::string("[jobs]\nruntime_dir = ") + bad + "\n");
    INFO(bad);
    REQUIRE(b.diagnostics.size() == 1);
    CHECK(b.diagnostics[0].format().find("nodeld.ini:2: ") != std::string::npos);
    CHECK(b.diagnostics[0].format().find("runtime_dir") != std::string::npos);
  }
}
