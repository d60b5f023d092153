#include "durable/storage/sqlite/connection.hpp"

#include <exception>

#include <fmt/format.h>

#include "durable/storage/sqlite/schema.hpp"

namespace durable::storage::sqlite_detail {

store_failure failure_for(int code, bool at_commit) noexcept {
  switch (code & 0xff) {
    // Another connection holds the lock past busy_timeout (BUSY, with
    // BUSY_TIMEOUT, BUSY_RECOVERY, BUSY_SNAPSHOT), or a shared-cache or
    // WAL lock race (LOCKED, PROTOCOL): nothing was written, and the same
    // call succeeds once the holder lets go.
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
    // Memory ran out, inside SQLite or its I/O layer: nothing was written.
    case SQLITE_NOMEM:
      return store_failure::unavailable;
    // The operating system failed a read, write, sync or lock. Before the
    // COMMIT nothing was written. At the COMMIT the WAL may hold the
    // transaction's frames with their commit mark although the call
    // failed: the next recovery of the file would keep them.
    case SQLITE_IOERR:
      return at_commit ? store_failure::in_doubt : store_failure::unavailable;
    // The file is not a database, or a page, an index or the header is
    // damaged.
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return store_failure::corrupt;
    // The disk is full (FULL), the file or its directory cannot be written
    // (READONLY and its subcodes: permissions, a read-only mount, a file
    // moved or replaced), or cannot be opened (CANTOPEN, PERM, AUTH). None
    // clears while the engine retries; an operator has to act, as for
    // PostgreSQL's disk_full. Nothing was written.
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    // Constraint failures (batch_apply.cpp acts on those it expects
    // before they get here), misuse, schema drift, values out of range.
    default:
      return store_failure::fatal;
  }
}

void fail(sqlite3* db, int rc, std::string_view context, bool at_commit) {
  throw sqlite_error(rc, at_commit,
                     fmt::format("{}: {} (SQLite code {})", context,
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                                 rc));
}

// -- query --------------------------------------------------------------------

connection::query::~query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (busy_)
    *busy_ = false;
  else
    sqlite3_finalize(stmt_);
}

bool connection::query::step() {
  auto rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  fail(db_, rc, sqlite3_sql(stmt_));
}

std::size_t connection::query::run() {
  while (step()) {
    // Drain: a statement with RETURNING or a PRAGMA may yield rows.
  }
  return static_cast<std::size_t>(sqlite3_changes(db_));
}

// -- connection ---------------------------------------------------------------

connection::connection(const std::string& path, const sqlite_options& opts) {
  auto rc = sqlite3_open_v2(
    path.c_str(), &db_,
    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  try {
    if (rc != SQLITE_OK)
      fail(db_, rc, "open");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(opts.busy_timeout.count()));
    auto mode = pragma_text("PRAGMA journal_mode = WAL");
    if (mode != "wal" && path != ":memory:" && !path.empty())
      throw durable::error("cannot switch to WAL mode (journal mode is " + mode
                           + ")");
    exec(opts.synchronous == sqlite_options::sync_mode::full
           ? "PRAGMA synchronous = FULL"
           : "PRAGMA synchronous = NORMAL");
    migrate(*this);
  } catch (const sqlite_error& e) {
    close();
    // Keeps its failure: a file that is not a database is `corrupt`, one
    // another process holds locked past busy_timeout `unavailable`.
    throw store_error(e.failure(),
                      fmt::format("cannot open SQLite database \"{}\": {}",
                                  path, e.what()));
  } catch (const std::exception& e) {
    close();
    throw durable::error(
      fmt::format("cannot open SQLite database \"{}\": {}", path, e.what()));
  }
}

connection::~connection() {
  close();
}

connection::query connection::prepare(const std::string& sql) {
  auto& entry = cache_[sql];
  if (entry.stmt && !entry.busy) {
    entry.busy = true;
    return query{db_, entry.stmt, &entry.busy};
  }
  sqlite3_stmt* stmt = nullptr;
  auto persistent = entry.stmt ? 0u : SQLITE_PREPARE_PERSISTENT;
  auto rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                               persistent, &stmt, nullptr);
  if (rc != SQLITE_OK)
    fail(db_, rc, "prepare " + sql);
  if (entry.stmt)
    return query{db_, stmt, nullptr};
  entry.stmt = stmt;
  entry.busy = true;
  return query{db_, stmt, &entry.busy};
}

void connection::exec(const std::string& sql) {
  run_sql(sql, false);
}

void connection::commit() {
  run_sql("COMMIT", true);
}

void connection::run_sql(const std::string& sql, bool at_commit) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    throw sqlite_error(rc, at_commit, fmt::format("{}: {}", sql, text));
  }
}

std::int64_t connection::pragma_int(const std::string& sql) {
  auto q = prepare(sql);
  return q.step() ? q.int64(0) : 0;
}

std::string connection::pragma_text(const std::string& sql) {
  auto q = prepare(sql);
  return q.step() ? q.text(0) : std::string{};
}

void connection::rollback_quietly() noexcept {
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void connection::close() noexcept {
  for (auto& [sql, entry] : cache_)
    sqlite3_finalize(entry.stmt);
  cache_.clear();
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

} // namespace durable::storage::sqlite_detail
