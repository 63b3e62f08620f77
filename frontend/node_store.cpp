#include "node_store.hpp"

#include "json_text.hpp"
#include "utc_time.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>

namespace smartvm::frontend {
namespace {

// Lists leave the report out: a page of all nodes must not read every node's megabytes.
constexpr const char* kSummaryColumns =
    "name, received_at, interval_seconds, free_cores, free_memory_kib, capacity_cores, capacity_memory_kib, '', "
    "received_at + 3 * interval_seconds < ?1 AS stale, summary";
constexpr const char* kColumns =
    "name, received_at, interval_seconds, free_cores, free_memory_kib, capacity_cores, capacity_memory_kib, report, "
    "received_at + 3 * interval_seconds < ?1 AS stale, summary";


}  // namespace

Error NodeStore::db_error(const std::string& what) const { return make_error(what + ": " + sqlite3_errmsg(db_)); }

Result<std::unique_ptr<NodeStore>> NodeStore::open(const std::string& path, size_t max_nodes) {
  std::unique_ptr<NodeStore> s(new NodeStore);
  s->max_nodes_ = max_nodes;
  s->log_path_ = path + "-wal";
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK)
    return s->db_error("open the database " + path);
  sqlite3_busy_timeout(s->db_, 2000);
  // WAL: readers never wait for the writer. synchronous=NORMAL: a commit does not flush the
  // log; the frontend answers a write only after GroupSync has flushed it (group_sync.hpp), so
  // one flush, off the event loop's thread, covers every report that arrived together.
  // locking_mode=EXCLUSIVE: the frontend is the database's only user, so it takes the lock once
  // instead of two fcntl() calls per report (a quarter of the ingest cost); a second frontend
  // on the same file is refused at once ("database is locked").
  // journal_size_limit: the WAL is cut back to 16 MiB after a checkpoint instead of staying as
  // large as the largest burst of reports it ever held.
  for (const char* sql : {"PRAGMA locking_mode=EXCLUSIVE", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "PRAGMA journal_size_limit=16777216",
                          "CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, received_at INTEGER NOT NULL, "
                          "interval_seconds INTEGER NOT NULL, seq INTEGER NOT NULL, report_time TEXT NOT NULL, "
                          "free_cores INTEGER NOT NULL, free_memory_kib INTEGER NOT NULL, capacity_cores INTEGER NOT NULL, "
                          "capacity_memory_kib INTEGER NOT NULL, report TEXT NOT NULL)",
                          // Keyed so that a node's samples are together and in time order.
                          "CREATE TABLE IF NOT EXISTS history (name TEXT NOT NULL, tier INTEGER NOT NULL, "
                          "bucket INTEGER NOT NULL, t INTEGER NOT NULL, cpu REAL, load1 REAL, io REAL, free_kib REAL, "
                          "PRIMARY KEY (name, tier, bucket)) WITHOUT ROWID"})
    if (auto r = s->exec(sql); !r) {
      if (sqlite3_errcode(s->db_) == SQLITE_BUSY)
        return make_error(path + " is in use by another process (another smartvm-frontend?); each frontend needs its own --db");
      return r.error().context(path);
    }
  // The pages a report's write touches (the node's row, its newest history) stay in SQLite's
  // cache: with the default 2 MiB, a cluster of thousands of nodes read five pages from the
  // file per report. About 16 KiB per node kept (--max-nodes), at least 8 MiB.
  std::string cache = "PRAGMA cache_size=-" + std::to_string(std::max<size_t>(8192, max_nodes * 16));
  if (auto r = s->exec(cache.c_str()); !r) return r.error().context(path);
  // Version 1 added the node's boot and the status page's summary, before the report: a column
  // after a large one is read by walking through its overflow pages, which made every list read
  // every report. A version 0 table (or the empty one just made) is copied into that layout.
  auto version = s->prepare("PRAGMA user_version");
  if (!version) return version.error();
  int user_version = sqlite3_step(*version) == SQLITE_ROW ? sqlite3_column_int(*version, 0) : 0;
  sqlite3_finalize(*version);
  if (user_version < 1) {
    constexpr const char* kV0Columns =
        "name, received_at, interval_seconds, seq, report_time, free_cores, free_memory_kib, capacity_cores, "
        "capacity_memory_kib, report";
    for (std::string sql :
         {std::string("BEGIN"),
          std::string("CREATE TABLE nodes_v1 (name TEXT PRIMARY KEY, received_at INTEGER NOT NULL, "
                      "interval_seconds INTEGER NOT NULL, seq INTEGER NOT NULL, report_time TEXT NOT NULL, "
                      "free_cores INTEGER NOT NULL, free_memory_kib INTEGER NOT NULL, capacity_cores INTEGER NOT NULL, "
                      "capacity_memory_kib INTEGER NOT NULL, boot_id TEXT NOT NULL DEFAULT '', "
                      "summary TEXT NOT NULL DEFAULT '{}', report TEXT NOT NULL)"),
          "INSERT INTO nodes_v1 (" + std::string(kV0Columns) + ") SELECT " + kV0Columns + " FROM nodes",
          std::string("DROP TABLE nodes"), std::string("ALTER TABLE nodes_v1 RENAME TO nodes"),
          std::string("PRAGMA user_version=1"), std::string("COMMIT")})
      if (auto r = s->exec(sql.c_str()); !r) {
        s->exec("ROLLBACK");
        return r.error().context(path);
      }
  }
  auto put = s->prepare(
      "INSERT INTO nodes (name, received_at, interval_seconds, seq, report_time, free_cores, free_memory_kib, "
      "capacity_cores, capacity_memory_kib, report, boot_id, summary) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
      "ON CONFLICT(name) DO UPDATE SET received_at = excluded.received_at, interval_seconds = excluded.interval_seconds, "
      "seq = excluded.seq, report_time = excluded.report_time, free_cores = excluded.free_cores, "
      "free_memory_kib = excluded.free_memory_kib, capacity_cores = excluded.capacity_cores, "
      "capacity_memory_kib = excluded.capacity_memory_kib, report = excluded.report, boot_id = excluded.boot_id, "
      "summary = excluded.summary "
      // An older report arriving late (a retry) never replaces a newer one; a node that rebooted
      // starts afresh, and a time from the future (?13: now + the allowed skew) outranks nothing.
      "WHERE (excluded.boot_id <> '' AND nodes.boot_id <> '' AND excluded.boot_id <> nodes.boot_id) OR "
      "nodes.report_time > ?13 OR excluded.report_time > nodes.report_time OR "
      "(excluded.report_time = nodes.report_time AND excluded.seq > nodes.seq)");
  if (!put) return put.error();
  s->put_ = *put;
  auto list = s->prepare((std::string("SELECT ") + kSummaryColumns + " FROM nodes ORDER BY name").c_str());
  if (!list) return list.error();
  s->list_ = *list;
  auto get = s->prepare((std::string("SELECT ") + kColumns + " FROM nodes WHERE name = ?2").c_str());
  if (!get) return get.error();
  s->get_ = *get;
  auto place = s->prepare((std::string("SELECT ") + kSummaryColumns +
                           " FROM nodes WHERE NOT stale AND free_cores >= ?2 AND free_memory_kib >= ?3 "
                           "ORDER BY free_cores - ?2, free_memory_kib - ?3, name")
                              .c_str());
  if (!place) return place.error();
  s->place_ = *place;
  auto exists = s->prepare("SELECT 1 FROM nodes WHERE name = ?1");
  if (!exists) return exists.error();
  s->exists_ = *exists;
  auto count = s->prepare("SELECT count(*) FROM nodes");
  if (!count) return count.error();
  s->count_ = *count;
  // The newest sample of each bucket replaces the one before it.
  auto sample = s->prepare(
      "INSERT OR REPLACE INTO history (name, tier, bucket, t, cpu, load1, io, free_kib) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!sample) return sample.error();
  s->sample_ = *sample;
  auto prune = s->prepare("DELETE FROM history WHERE name = ?1 AND tier = ?2 AND bucket < ?3");
  if (!prune) return prune.error();
  s->prune_ = *prune;
  auto history = s->prepare(
      "SELECT t, cpu, load1, io, free_kib FROM history WHERE name = ?1 AND "
      "((tier = 1 AND t >= ?2 AND t < ?3) OR (tier = 0 AND t >= ?2 AND t >= ?3)) ORDER BY t");
  if (!history) return history.error();
  s->history_ = *history;
  for (auto [st, sql] : {std::pair{&s->begin_, "BEGIN"}, std::pair{&s->commit_, "COMMIT"},
                         std::pair{&s->savepoint_, "SAVEPOINT write"}, std::pair{&s->release_, "RELEASE write"},
                         std::pair{&s->undo_, "ROLLBACK TO write"}}) {
    auto prepared = s->prepare(sql);
    if (!prepared) return prepared.error();
    *st = *prepared;
  }
  return s;
}

NodeStore::~NodeStore() {
  for (sqlite3_stmt* st : {put_, list_, get_, place_, exists_, count_, sample_, prune_, history_, begin_, commit_,
                           savepoint_, release_, undo_})
    sqlite3_finalize(st);
  sqlite3_close(db_);
}

Result<void> NodeStore::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    Error e = make_error(std::string(sql) + ": " + (msg ? msg : "failed"));
    sqlite3_free(msg);
    return e;
  }
  return {};
}

Result<void> NodeStore::step(sqlite3_stmt* st, const std::string& what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return db_error(what);
  return {};
}

void NodeStore::note_lost_transaction() {
  // On SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM SQLite may roll the whole transaction back,
  // not just the failing statement: the group's earlier writes, whose answers wait for the
  // commit, are then gone, and the commit must fail for them.
  if (in_transaction_ && sqlite3_get_autocommit(db_)) {
    in_transaction_ = false;
    transaction_lost_ = true;
  }
}

Result<void> NodeStore::begin_write() {
  note_lost_transaction();
  if (sqlite3_get_autocommit(db_)) {  // no transaction open: the first write of a group, or of its own
    if (auto b = step(begin_, "begin a transaction"); !b) return b;
    in_transaction_ = true;
  }
  return step(savepoint_, "begin a write");
}

Result<void> NodeStore::end_write(bool ok) {
  Result<void> ended;
  if (!ok) ended = step(undo_, "undo a failed write");
  if (ended) ended = step(release_, "end a write");
  note_lost_transaction();
  if (!ended) return ended;
  return hold_ ? Result<void>() : commit();
}

Result<void> NodeStore::commit() {
  note_lost_transaction();
  if (transaction_lost_) {
    transaction_lost_ = false;
    if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");  // what came after the loss goes with it
    in_transaction_ = false;
    return make_error("commit: SQLite rolled the transaction back after a failed write (disk full, I/O error "
                      "or out of memory): none of its writes is stored");
  }
  if (sqlite3_get_autocommit(db_)) return {};
  in_transaction_ = false;
  if (auto c = step(commit_, "commit"); !c) {
    if (!sqlite3_get_autocommit(db_)) exec("ROLLBACK");
    return c;
  }
  ++commits_;
  return {};
}

Result<sqlite3_stmt*> NodeStore::prepare(const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
    return db_error("prepare a statement");
  return st;
}

Result<PutOutcome> NodeStore::put(const NodeReport& r, int64_t now, const std::string& summary) {
  // A new name past max_nodes is refused; a known one always gets through.
  sqlite3_reset(exists_);
  sqlite3_bind_text(exists_, 1, r.node.c_str(), -1, SQLITE_TRANSIENT);
  int known = sqlite3_step(exists_);
  sqlite3_reset(exists_);
  if (known != SQLITE_ROW && known != SQLITE_DONE) return db_error("look up node " + r.node);
  if (known == SQLITE_DONE) {
    int counted = sqlite3_step(count_);
    int64_t nodes = counted == SQLITE_ROW ? sqlite3_column_int64(count_, 0) : 0;
    sqlite3_reset(count_);
    if (counted != SQLITE_ROW) return db_error("count the nodes");
    if (static_cast<uint64_t>(nodes) >= max_nodes_) return PutOutcome::full;
  }
  std::string json = json_text(r.raw);
  // Ranked by when it was made, but never later than when it arrived: a node whose clock runs
  // ahead cannot outrank its own later reports once its clock is put right.
  std::string rank_time = std::min(r.time, format_utc_seconds(now));
  std::string future = format_utc_seconds(now + kMaxClockAheadSeconds);
  sqlite3_reset(put_);
  sqlite3_bind_text(put_, 1, r.node.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(put_, 2, now);
  sqlite3_bind_int64(put_, 3, static_cast<int64_t>(r.interval_seconds));
  sqlite3_bind_int64(put_, 4, static_cast<int64_t>(r.seq));
  sqlite3_bind_text(put_, 5, rank_time.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(put_, 6, static_cast<int64_t>(r.free_cores()));
  sqlite3_bind_int64(put_, 7, static_cast<int64_t>(r.free_memory_kib()));
  sqlite3_bind_int64(put_, 8, static_cast<int64_t>(r.capacity_cores));
  sqlite3_bind_int64(put_, 9, static_cast<int64_t>(r.capacity_memory_kib));
  sqlite3_bind_text(put_, 10, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
  sqlite3_bind_text(put_, 11, r.boot_id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(put_, 12, summary.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(put_, 13, future.c_str(), -1, SQLITE_TRANSIENT);
  // The report and its sample are one write: the history never has a point whose report was
  // not stored.
  if (auto b = begin_write(); !b) return b.error();
  Result<void> wrote;
  if (sqlite3_step(put_) != SQLITE_DONE) wrote = db_error("store the report of " + r.node);
  bool stored = wrote && sqlite3_changes(db_) > 0;
  if (stored) wrote = record_sample(sample_of(r, now), r.node);
  if (auto e = end_write(bool(wrote)); !e) return e.error();
  if (!wrote) return wrote.error();
  return stored ? PutOutcome::stored : PutOutcome::older;
}

Result<void> NodeStore::record_sample(const HostSample& s, const std::string& name) {
  for (int tier = 0; tier < 2; ++tier) {
    const HistoryTier& h = kHistoryTiers[tier];
    sqlite3_reset(sample_);
    sqlite3_bind_text(sample_, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(sample_, 2, tier);
    sqlite3_bind_int64(sample_, 3, s.time / h.bucket_seconds);
    sqlite3_bind_int64(sample_, 4, s.time);
    int column = 5;
    for (double v : {s.cpu_use_percent, s.load1, s.io_pressure, s.free_memory_kib}) {
      if (std::isnan(v))
        sqlite3_bind_null(sample_, column++);
      else
        sqlite3_bind_double(sample_, column++, v);
    }
    if (sqlite3_step(sample_) != SQLITE_DONE) return db_error("keep the history of " + name);
    sqlite3_reset(prune_);
    sqlite3_bind_text(prune_, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(prune_, 2, tier);
    sqlite3_bind_int64(prune_, 3, (s.time - h.keep_seconds) / h.bucket_seconds);
    if (sqlite3_step(prune_) != SQLITE_DONE) return db_error("prune the history of " + name);
  }
  return {};
}

Result<std::vector<HostSample>> NodeStore::samples(sqlite3_stmt* st) {
  std::vector<HostSample> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    HostSample s;
    s.time = sqlite3_column_int64(st, 0);
    double* fields[] = {&s.cpu_use_percent, &s.load1, &s.io_pressure, &s.free_memory_kib};
    for (int i = 0; i < 4; ++i)
      *fields[i] = sqlite3_column_type(st, i + 1) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i + 1);
    out.push_back(s);
  }
  Result<std::vector<HostSample>> r = out;
  if (rc != SQLITE_DONE) r = db_error("read the history");
  sqlite3_reset(st);
  return r;
}

Result<std::vector<HostSample>> NodeStore::history(const std::string& name, int64_t since, int64_t now) {
  sqlite3_reset(history_);
  sqlite3_bind_text(history_, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(history_, 2, since);
  sqlite3_bind_int64(history_, 3, now - kHistoryTiers[0].keep_seconds);
  return samples(history_);
}

Result<size_t> NodeStore::delete_where(std::initializer_list<const char*> statements, const std::string& text,
                                       int64_t number, const std::string& what) {
  if (auto b = begin_write(); !b) return b.error();
  size_t changed = 0;
  for (const char* sql : statements) {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
    if (rc == SQLITE_OK) {
      if (text.empty())
        sqlite3_bind_int64(st, 1, number);
      else
        sqlite3_bind_text(st, 1, text.c_str(), -1, SQLITE_TRANSIENT);
      rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      Error e = db_error(what);
      if (auto u = end_write(false); !u) return u.error();
      return e;
    }
    changed = static_cast<size_t>(sqlite3_changes(db_));  // the last statement's: the nodes
  }
  if (auto c = end_write(true); !c) return c.error();
  return changed;
}

Result<std::string> NodeStore::image() {
  sqlite3_int64 size = 0;
  unsigned char* bytes = sqlite3_serialize(db_, "main", &size, 0);
  if (!bytes) return db_error("copy the database");
  std::string out(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size));
  sqlite3_free(bytes);
  return out;
}

Result<bool> NodeStore::remove(const std::string& name) {
  auto n = delete_where({"DELETE FROM history WHERE name = ?1", "DELETE FROM nodes WHERE name = ?1"}, name, 0,
                        "forget node " + name);
  if (!n) return n.error();
  return *n > 0;
}

Result<size_t> NodeStore::forget_silent_since(int64_t before) {
  return delete_where({"DELETE FROM history WHERE name IN (SELECT name FROM nodes WHERE received_at < ?1)",
                       "DELETE FROM nodes WHERE received_at < ?1"},
                      "", before, "forget silent nodes");
}

Result<std::vector<NodeRow>> NodeStore::rows(sqlite3_stmt* st, int64_t now) {
  sqlite3_bind_int64(st, 1, now);
  std::vector<NodeRow> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    NodeRow n;
    n.name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    n.received_at = sqlite3_column_int64(st, 1);
    n.interval_seconds = static_cast<uint64_t>(sqlite3_column_int64(st, 2));
    n.free_cores = static_cast<uint64_t>(sqlite3_column_int64(st, 3));
    n.free_memory_kib = static_cast<uint64_t>(sqlite3_column_int64(st, 4));
    n.capacity_cores = static_cast<uint64_t>(sqlite3_column_int64(st, 5));
    n.capacity_memory_kib = static_cast<uint64_t>(sqlite3_column_int64(st, 6));
    n.report = reinterpret_cast<const char*>(sqlite3_column_text(st, 7));
    n.stale = sqlite3_column_int(st, 8) != 0;
    n.summary = reinterpret_cast<const char*>(sqlite3_column_text(st, 9));
    out.push_back(std::move(n));
  }
  Result<std::vector<NodeRow>> r = out;
  if (rc != SQLITE_DONE) r = db_error("read the nodes");
  sqlite3_reset(st);
  return r;
}

Result<std::vector<NodeRow>> NodeStore::list(int64_t now) { return rows(list_, now); }

Result<std::optional<NodeRow>> NodeStore::get(const std::string& name, int64_t now) {
  sqlite3_bind_text(get_, 2, name.c_str(), -1, SQLITE_TRANSIENT);
  auto r = rows(get_, now);
  if (!r) return r.error();
  if (r->empty()) return std::optional<NodeRow>();
  return std::optional<NodeRow>(std::move(r->front()));
}

Result<std::vector<NodeRow>> NodeStore::placement(uint64_t cores, uint64_t memory_kib, int64_t now) {
  // No node has more (reports are bounded so), and SQLite's integers are signed.
  if (cores > kMaxReportNumber || memory_kib > kMaxReportNumber) return std::vector<NodeRow>();
  sqlite3_bind_int64(place_, 2, static_cast<int64_t>(cores));
  sqlite3_bind_int64(place_, 3, static_cast<int64_t>(memory_kib));
  return rows(place_, now);
}

}  // namespace smartvm::frontend
