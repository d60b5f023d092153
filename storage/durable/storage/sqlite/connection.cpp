#include "durable/storage/sqlite/connection.hpp"

#include <exception>

#include <fmt/format.h>

#include "durable/storage/sqlite/schema.hpp"

namespace durable::storage::sqlite_detail {

void fail(sqlite3* db, int rc, std::string_view context) {
  throw sqlite_error(
    rc, fmt::format("{}: {} (SQLite code {})", context,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc));
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
  char* msg = nullptr;
  auto rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    throw sqlite_error(rc, fmt::format("{}: {}", sql, text));
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
