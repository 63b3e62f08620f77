// The real agent sends its record to the host's status port too (here a FIFO standing for
// the virtio port, read by `cat` in the agent's namespace): every outcome, also one that
// never reached the repository.
#include "agent_harness.hpp"

#include "catch_result.hpp"

using namespace smartvm;
using namespace smartvm::test;

namespace {

// Runs the agent with $T/port as its status port, read into $T/from-port. The shell holds the
// FIFO open (fd 3, read-write) from before the agent starts until it has ended, as the host
// holds its end of the port: the agent, which gives up at once on a FIFO without a reader,
// must not race `cat` to the open; the record waits in the pipe, and `cat` sees its end when
// fd 3 closes (neither `cat` nor the agent inherit it).
ProcessResult run_with_port(const AgentScenario& s) {
  ProcessOptions o;
  o.env.push_back("SMARTVM_STATUS_PORT=" + (s.tmp() / "port").string());
  return s.run_shell("mkfifo $T/port && exec 3<>$T/port && { cat $T/port > $T/from-port 3<&- & } && "
                     "$AGENT --context $T/ctx --power none 3<&-; rc=$?; exec 3<&-; wait; exit $rc",
                     o);
}

}  // namespace

TEST_CASE("the host gets the job's record through the status port", "[root][agent][host_port]") {
  REQUIRE_ROOT();
  AgentScenario s;
  s.write_job("[job]\nuser = nobody\nworkdir = job\ncommand = /bin/sh\nargs = -c 'exit 7'\n");
  auto r = run_with_port(s);
  INFO(r.err);
  CHECK(r.exit_code == 0);
  auto sent = parse_status(read_file(s.tmp() / "from-port"));
  REQUIRE(sent);
  CHECK(sent->state == JobState::failed);
  CHECK(sent->exit_code == 7);
  CHECK(read_file(s.tmp() / "from-port") == read_file(s.repo() / "job/exit_status"));  // the same record
}

TEST_CASE("the host learns a setup failure that never reached the repository", "[root][agent][host_port]") {
  REQUIRE_ROOT();
  AgentScenario s;
  write_file(s.context() / "appliance.ini",
             "[job]\nuser = nobody\ncommand = /bin/true\n[repository]\ntype = bind\nsource = " +
                 (s.tmp() / "missing").string() + "\nmountpoint = " + s.mountpoint().string() +
                 "\nattempts = 1\n");
  auto r = run_with_port(s);
  INFO(r.err);
  CHECK(r.exit_code == 1);
  auto sent = parse_status(read_file(s.tmp() / "from-port"));
  REQUIRE(sent);
  CHECK(sent->state == JobState::setup_failed);
  CHECK(sent->error.find("mount repository: gave up after 1 attempts") == 0);
  CHECK(!sent->agent_version.empty());
}
