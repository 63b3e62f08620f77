// The frontend's state: the newest report of every node, in SQLite (WAL), so that it survives
// restarts. A node is stale when its newest report is older than three of its own intervals.
#pragma once

#include "error.hpp"
#include "node_report.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace smartvm::frontend {

struct NodeRow {
  std::string name;
  int64_t received_at = 0;  // unix seconds
  uint64_t interval_seconds = 0;
  uint64_t free_cores = 0;
  uint64_t free_memory_kib = 0;
  uint64_t capacity_cores = 0;
  uint64_t capacity_memory_kib = 0;
  std::string report;   // the JSON as sent (get() only; list() and placement() leave it empty)
  std::string summary;  // what the status page shows of it (JSON, small), made when it was stored
  bool stale = false;
};

// How far ahead of the frontend's clock a report's time may be: a little skew is normal, a
// report from the future would otherwise outrank every later one.
inline constexpr int64_t kMaxClockAheadSeconds = 300;
inline constexpr size_t kDefaultMaxNodes = 2000;

enum class PutOutcome { stored, older, full };

class NodeStore {
 public:
  // `max_nodes`: how many node names are kept; reports of new names past it are refused.
  static Result<std::unique_ptr<NodeStore>> open(const std::string& path, size_t max_nodes = kDefaultMaxNodes);
  ~NodeStore();

  // Keeps `r` as the node's newest report unless a newer one is already stored: a later time
  // (bounded by `now`: a report is never ranked later than its arrival), or the same time and
  // a higher seq. A report from another boot of the node (host.boot_id) is newer whatever its
  // time, and a stored time beyond now + kMaxClockAheadSeconds (a clock that was wrong, or the
  // frontend's clock stepped back) is replaced by any report. `full` when `r` names a new node
  // and max_nodes are kept. The caller refuses reports from further in the future.
  Result<PutOutcome> put(const NodeReport& r, int64_t now, const std::string& summary = "{}");
  size_t max_nodes() const { return max_nodes_; }
  Result<std::vector<NodeRow>> list(int64_t now);
  Result<std::optional<NodeRow>> get(const std::string& name, int64_t now);
  // Nodes that are not stale and have `cores` and `memory_kib` free, best fit first: the least
  // left over (cores, then memory), then by name.
  Result<std::vector<NodeRow>> placement(uint64_t cores, uint64_t memory_kib, int64_t now);

 private:
  NodeStore() = default;
  Result<void> exec(const char* sql);
  Result<sqlite3_stmt*> prepare(const char* sql);
  Result<std::vector<NodeRow>> rows(sqlite3_stmt* st, int64_t now);
  Error db_error(const std::string& what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* list_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* place_ = nullptr;
  sqlite3_stmt* exists_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
  size_t max_nodes_ = kDefaultMaxNodes;
};

}  // namespace smartvm::frontend
