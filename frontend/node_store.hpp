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
  std::string report;  // the JSON as sent
  bool stale = false;
};

class NodeStore {
 public:
  static Result<std::unique_ptr<NodeStore>> open(const std::string& path);
  ~NodeStore();

  // Keeps `r` as the node's newest report unless a newer one (higher seq from the same boot,
  // or a later time) is already stored. Returns whether it was stored.
  Result<bool> put(const NodeReport& r, int64_t now);
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
};

}  // namespace smartvm::frontend
