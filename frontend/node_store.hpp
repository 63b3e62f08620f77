// The frontend's state: the newest report of every node and a bounded history of its host's
// load, in SQLite (WAL), so that it survives restarts. A node is stale when its newest report is
// older than three of its own intervals.
#pragma once

#include "error.hpp"
#include "host_sample.hpp"
#include "node_report.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
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

// A node's history has a fixed size whatever its uptime: the newest sample of every 10 s for an
// hour (at most 360 points), and of every 5 minutes for a day (at most 288); older ones are
// dropped as new ones come.
struct HistoryTier {
  int64_t bucket_seconds;
  int64_t keep_seconds;
};
inline constexpr HistoryTier kHistoryTiers[] = {{10, 3600}, {300, 86400}};

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
  // Group commit (group_sync.hpp): when held, writes stay in one open transaction until
  // commit(), which GroupSync calls before each flush, so that what arrived together is one
  // commit (each page it touched written to the log once) and one flush. Each write is still
  // all or nothing (a savepoint of its own). Not held (the default), each write commits at once.
  void hold_commits(bool hold) { hold_ = hold; }
  // Commits the open transaction, if any; when that fails it is rolled back: nothing in it is
  // stored, and the error says why.
  Result<void> commit();
  // Transactions committed so far.
  uint64_t commits() const { return commits_; }
  // The write-ahead log that commits go to (flushed by GroupSync before an answer).
  const std::string& log_path() const { return log_path_; }
  Result<std::vector<NodeRow>> list(int64_t now);
  Result<std::optional<NodeRow>> get(const std::string& name, int64_t now);
  // The node's samples since `since` (at most a day back), oldest first: the fine tier for the
  // last hour, the coarse one before it.
  Result<std::vector<HostSample>> history(const std::string& name, int64_t since, int64_t now);
  // The whole database as one consistent SQLite file image (sqlite3_serialize): how an operator
  // looks inside while the frontend runs, since the frontend holds the file's lock alone.
  Result<std::string> image();
  // Forgets a node and its history; false when there was no such node.
  Result<bool> remove(const std::string& name);
  // Forgets every node whose newest report arrived before `before`; returns how many.
  Result<size_t> forget_silent_since(int64_t before);
  // Nodes that are not stale and have `cores` and `memory_kib` free, best fit first: the least
  // left over (cores, then memory), then by name.
  Result<std::vector<NodeRow>> placement(uint64_t cores, uint64_t memory_kib, int64_t now);

 private:
  NodeStore() = default;
  Result<void> exec(const char* sql);
  Result<void> step(sqlite3_stmt* st, const std::string& what);
  // A write's start and end: the transaction (the group's when commits are held) and the
  // write's own savepoint; end_write(false) undoes the write.
  Result<void> begin_write();
  Result<void> end_write(bool ok);
  // Notes a transaction of ours that SQLite rolled back by itself (commit() then fails).
  void note_lost_transaction();
  Result<sqlite3_stmt*> prepare(const char* sql);
  Result<std::vector<NodeRow>> rows(sqlite3_stmt* st, int64_t now);
  Error db_error(const std::string& what) const;
  Result<void> record_sample(const HostSample& s, const std::string& name);
  Result<std::vector<HostSample>> samples(sqlite3_stmt* st);
  // Runs `statements` (each binding ?1 to `text`, or to `number` when `text` is empty) in one
  // transaction; returns how many rows the last one changed.
  Result<size_t> delete_where(std::initializer_list<const char*> statements, const std::string& text, int64_t number,
                              const std::string& what);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* list_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* place_ = nullptr;
  sqlite3_stmt* exists_ = nullptr;
  sqlite3_stmt* count_ = nullptr;
  sqlite3_stmt* sample_ = nullptr;
  sqlite3_stmt* prune_ = nullptr;
  sqlite3_stmt* history_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* savepoint_ = nullptr;
  sqlite3_stmt* release_ = nullptr;
  sqlite3_stmt* undo_ = nullptr;
  bool hold_ = false;
  bool in_transaction_ = false;   // we began one and have not ended it
  bool transaction_lost_ = false; // SQLite ended it on its own, writes and all
  uint64_t commits_ = 0;
  size_t max_nodes_ = kDefaultMaxNodes;
  std::string log_path_;
};

}  // namespace smartvm::frontend
