// The guest's console on smartvm-run's stdout: whole lines with the job's id.
#include "console_lines.hpp"
#include "job_domain.hpp"

#include <catch2/catch.hpp>

#include <libvirt/libvirt.h>

using namespace smartvm::launcher;

TEST_CASE("console lines carry the job's id, whole, without carriage returns", "[launcher][console]") {
  ConsoleLines c("j-7");
  CHECK(c.feed("smartvm-agent: info: fin") == "");
  CHECK(c.feed("ding\r\nnext\r\nthird li") == "j-7: smartvm-agent: info: finding\nj-7: next\n");
  CHECK(c.feed("\n\n") == "j-7: third li\nj-7: \n");
  CHECK(c.feed("no newline at the end") == "");
  CHECK(c.flush() == "j-7: no newline at the end\n");
  CHECK(c.flush() == "");
  // A guest that never ends its line is shown in pieces, not held back forever.
  std::string out = c.feed(std::string(5000, 'x'));
  CHECK(out == "j-7: " + std::string(4096, 'x') + "\n");
  CHECK(c.flush() == "j-7: " + std::string(904, 'x') + "\n");
}

TEST_CASE("the lifecycle events that end a job", "[launcher][domain]") {
  CHECK(ends_job({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED}));
  CHECK(ends_job({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST}));  // what QEMU's driver sends
  CHECK(ends_job({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST}));
  CHECK(ends_job({VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED}));
  CHECK(ends_job({VIR_DOMAIN_EVENT_CRASHED, 0}));
  CHECK(ends_job({kConnectionClosed, 0}));  // no event will come any more
  CHECK_FALSE(ends_job({VIR_DOMAIN_EVENT_RESUMED, 0}));
  CHECK_FALSE(ends_job({VIR_DOMAIN_EVENT_STARTED, 0}));
  CHECK(describe({VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED}) == "the domain was destroyed");
  CHECK(describe({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED}) == "the guest shut down");
  CHECK(describe({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST}) ==
        "qemu was stopped from the host (the domain destroyed, or qemu signalled)");
}

TEST_CASE("only a guest that powered itself off is left to libvirt to remove", "[launcher][domain]") {
  CHECK(powered_itself_off({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST}));
  CHECK_FALSE(powered_itself_off({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST}));  // a destroy's SIGTERM
  CHECK_FALSE(powered_itself_off({VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED}));
  CHECK_FALSE(powered_itself_off({VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN}));
  CHECK_FALSE(powered_itself_off({VIR_DOMAIN_EVENT_CRASHED, 0}));
  CHECK_FALSE(powered_itself_off({kConnectionClosed, 0}));
}
