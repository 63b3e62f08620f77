// Cleans up after jobs whose smartvm-run is gone, on a thread of its own (a libvirt call or a
// large directory must not hold up the main loop): reads the runtime directory and tries the
// job directories' locks, plans (job_cleanup.hpp), destroys the orphans' domains through the shared libvirt connection
// (transient: destroyed, they are gone) and removes their directories and the leftovers. It
// says nothing itself: the outcome goes back to the caller, which logs it.
#pragma once

#include "job_cleanup.hpp"
#include "libvirt_connection.hpp"
#include "source_worker.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace smartvm::nodeld {

struct CleanupOutcome {
  std::vector<std::string> done;      // one line per job or directory cleaned, for the log
  std::vector<std::string> problems;  // what could not be done, this pass
  uint64_t cleaned = 0;               // job domains destroyed and leftover directories removed
  std::set<std::string> ending;       // left to libvirt this pass (CleanupPlan::ending)
};

struct CleanupSettings {
  std::string runtime_dir = "/run/smartvm/jobs";
};

// One pass, on the calling thread: what the worker runs, and what a test can run directly.
// `ending_before`: what the previous pass left to libvirt (its outcome's `ending`).
CleanupOutcome clean_up_jobs(LibvirtConnection& connection, const CleanupSettings& settings,
                             const std::vector<JobDomainRef>& domains, const std::set<std::string>& ending_before = {});

class JobReaper {
 public:
  explicit JobReaper(boost::asio::io_context& io) : io_(io) {}

  // Starts a pass over `domains` (the newest cycle's job domains); `done` runs on `io` with the
  // outcome. False, doing nothing, while the previous pass still runs.
  bool start(std::shared_ptr<LibvirtConnection> connection, CleanupSettings settings, std::vector<JobDomainRef> domains,
             std::function<void(CleanupOutcome)> done);
  bool busy() const { return worker_.busy(); }

 private:
  boost::asio::io_context& io_;
  SourceWorker worker_;
  std::set<std::string> ending_;  // the last pass's outcome.ending, for the next
};

}  // namespace smartvm::nodeld
