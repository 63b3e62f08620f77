// One collection cycle: every source asked at once, each on its own worker thread, and the
// snapshot built when all have answered or the deadline has passed, whichever comes first.
// A source that failed, answered late or still hangs from an earlier cycle is marked stale in
// the snapshot (with the age of its last good answer and the error), and its last good data is
// kept in its place; the other sources' parts are fresh, and the report goes out on time.
#pragma once

#include "error.hpp"
#include "snapshot.hpp"
#include "source_worker.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smartvm::nodeld {

// What each source does in a cycle; run on the source's worker thread.
struct SourceFunctions {
  std::function<Result<HostStats>()> host;
  std::function<Result<HypervisorStats>()> hypervisor;
  std::function<Result<std::vector<RdmaPort>>()> rdma;
};

class Collector {
 public:
  Collector(boost::asio::io_context& io, SourceFunctions sources);

  // Starts a cycle; `done` runs on the main loop with the snapshot (node, time, seq and
  // interval filled in by the caller). A cycle started while one runs is refused (false).
  bool collect(std::chrono::milliseconds deadline, std::function<void(Snapshot)> done);
  // Whether a source's job is still running (nodeld does not wait for it at exit).
  bool any_busy() const;
  // Whether a cycle is under way.
  bool collecting() const;

 private:
  struct Cycle;
  template <typename T>
  struct Slot {
    std::optional<T> last_good;
    std::optional<std::chrono::system_clock::time_point> last_good_at;
    std::string error;  // of the newest answer; "" after a good one
    bool answered = false;    // in the running cycle
    std::string busy_reason;  // why it was not asked in the running cycle
    SourceWorker worker;
  };

  template <typename T>
  void start(const char* name, Slot<T>& slot, std::function<Result<T>()>& fn, const std::shared_ptr<Cycle>& cycle);
  template <typename T>
  void settle(const char* name, Slot<T>& slot, Snapshot& s, std::optional<T>& out);
  void finish(const std::shared_ptr<Cycle>& cycle);

  boost::asio::io_context& io_;
  SourceFunctions sources_;
  Slot<HostStats> host_;
  Slot<HypervisorStats> hypervisor_;
  Slot<std::vector<RdmaPort>> rdma_;
  std::shared_ptr<Cycle> running_;
};

}  // namespace smartvm::nodeld
