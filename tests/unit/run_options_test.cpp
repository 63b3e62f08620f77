#include "run_options.hpp"

#include <catch2/catch.hpp>

using namespace smartvm::launcher;

namespace {
ParsedRunOptions parse(std::vector<std::string> a) { return parse_run_options(a); }
}  // namespace

TEST_CASE("smartvm-run's options", "[launcher][options]") {
  auto p = parse({"--service", "blast", "--cores=2", "--memory", "4G", "--time", "1:30:00", "--job-id", "j-1",
                  "--input", "a.fa", "--input=b.fa", "--", "--not-an-option", "x"});
  REQUIRE(p.action == ParsedRunOptions::Action::run);
  CHECK(p.options.service == "blast");
  CHECK(p.options.cores == 2u);
  CHECK(p.options.memory_bytes == 4ull << 30);
  CHECK(p.options.time_seconds == 5400u);
  CHECK(p.options.job_id == "j-1");
  CHECK(p.options.inputs == std::vector<std::string>{"a.fa", "b.fa"});
  CHECK(p.options.args == std::vector<std::string>{"--not-an-option", "x"});
  CHECK(p.options.catalog == "/etc/smartvm/services.d");
  CHECK(p.options.runtime_dir == "/run/smartvm/jobs");
  CHECK(p.options.libvirt_uri.empty());
  auto where = parse({"--service", "s", "--connect", "qemu:///session", "--runtime-dir=/tmp/jobs"});
  CHECK(where.options.libvirt_uri == "qemu:///session");
  CHECK(where.options.runtime_dir == "/tmp/jobs");
  CHECK(parse({"--service", "s", "--libvirt-uri", "test:///default"}).options.libvirt_uri == "test:///default");
  CHECK(parse({"--check"}).options.check);
  CHECK(parse({"--help"}).action == ParsedRunOptions::Action::help);
}

TEST_CASE("smartvm-run's usage errors say what is wrong", "[launcher][options]") {
  CHECK(parse({}).error == "give either --service NAME or --appliance FILE");
  CHECK(parse({"--service", "a", "--appliance", "b"}).error == "give either --service NAME or --appliance FILE");
  CHECK(parse({"--service"}).error == "--service needs a value");
  CHECK(parse({"--service", "a", "--cores", "0"}).error == "--cores: \"0\" is not a number of cores from 1 to 1024");
  CHECK(parse({"--service", "a", "--memory", "lots"}).error == "--memory: \"lots\" is not a size such as 2G or 512M");
  CHECK(parse({"--service", "a", "--time", "0"}).error ==
        "--time: \"0\" is not a length of time such as 3600, 90m, 2h or 1:30:00");
  CHECK(parse({"--service", "a", "--job-id", "../x"}).error ==
        "--job-id: \"../x\" is not a job id (letters, digits, '-', '_', '.', at most 64)");
  CHECK(parse({"--service", "a", "input.fa"}).error ==
        "unknown argument \"input.fa\" (the job's own arguments go after \"--\")");
  CHECK(parse({"--service", "a", "--job-id", "x"}).action == ParsedRunOptions::Action::run);
  CHECK(!valid_job_id(std::string(65, 'a')));
  CHECK(!valid_job_id("-x"));
}
