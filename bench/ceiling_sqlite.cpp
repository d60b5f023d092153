// The SQLite ceiling (see ceilings.hpp): the SQLite store's transactions
// (BEGIN IMMEDIATE, one statement per row) reduced to the columns a claim
// and a completion change, on the store's own table and pragmas.
#include <chrono>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <sqlite3.h>

#include "ceilings.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/time.hpp"

namespace durable::bench {

namespace {

constexpr std::int64_t lease_us = 6'000'000;

/// One raw connection with the store's pragmas; throws on any error.
class raw_db {
public:
  raw_db(const std::string& path, bool normal_sync) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
      fail("open");
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode = WAL");
    exec(normal_sync ? "PRAGMA synchronous = NORMAL"
                     : "PRAGMA synchronous = FULL");
  }

  ~raw_db() {
    for (auto* s : stmts_)
      sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }

  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      fail(sql);
  }

  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr)
        != SQLITE_OK)
      fail(sql);
    stmts_.push_back(s);
    return s;
  }

  /// Steps `s` to the end; returns rows changed.
  int run(sqlite3_stmt* s) {
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE)
      fail("step");
    sqlite3_reset(s);
    return sqlite3_changes(db_);
  }

  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(
      fmt::format("SQLite ceiling: {}: {}", what, sqlite3_errmsg(db_)));
  }

private:
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> stmts_;
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}

std::int64_t now_us() {
  return to_micros(system_now());
}

} // namespace

ceiling_result sqlite_ceiling(const std::string& path, bool normal_sync,
                              std::size_t executions, std::size_t insert_batch,
                              std::size_t claim_batch) {
  struct remover {
    const std::string& path;
    ~remover() {
      std::error_code ec;
      for (auto suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path + suffix, ec);
    }
  } cleanup{path};
  // The store's migration makes the table and indexes.
  storage::sqlite(path);
  raw_db db{path, normal_sync};
  auto* insert = db.prepare(
    "INSERT INTO executions (id, task_id, kind, root_task_id, "
    "root_execution_id, retry, sleep_before_run_ms, timeout_ms, input, "
    "status, version, attempt, recoveries, start_at, created_at, updated_at, "
    "children, step, watched) VALUES (?1, 'ceiling', 0, 'ceiling', ?1, "
    "'{\"max_attempts\":0}', 0, 60000, ?2, 0, 0, 0, 0, ?3, ?3, ?3, '[]', 0, "
    "0)");
  // Stored statuses: 0 ready, 1 running, 4 completed (durable/status.hpp).
  auto* select = db.prepare(
    "SELECT id, version, input FROM executions WHERE status = 0 AND task_id "
    "= 'ceiling' AND start_at <= ?1 ORDER BY start_at, id LIMIT ?2");
  auto* claim = db.prepare(
    "UPDATE executions SET status = 1, started_at = ?2, expires_at = ?2 + "
    "timeout_ms * 1000, owner = 'ceiling-owner', lease_expires_at = ?3, "
    "version = version + 1, updated_at = ?2 WHERE id = ?1 AND version = ?4");
  auto* complete = db.prepare(
    "UPDATE executions SET status = 4, output = ?2, finished_at = ?3, "
    "closed_at = ?3, updated_at = ?3, owner = NULL, lease_expires_at = NULL, "
    "version = version + 1 WHERE id = ?1 AND version = ?4");
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < executions;) {
    db.exec("BEGIN IMMEDIATE");
    auto end = std::min(executions, done + insert_batch);
    const auto now = now_us();
    for (; done < end; ++done) {
      bind_text(insert, 1, fmt::format("c{:012}", done));
      bind_text(insert, 2, fmt::format("{}", done));
      sqlite3_bind_int64(insert, 3, now);
      db.run(insert);
    }
    db.exec("COMMIT");
  }
  const double insert_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  std::size_t completed = 0;
  std::size_t claims = 0;
  struct row {
    std::string id;
    std::int64_t version;
    std::string input;
  };
  for (;;) {
    std::vector<row> rows;
    db.exec("BEGIN IMMEDIATE");
    auto now = now_us();
    sqlite3_bind_int64(select, 1, now);
    sqlite3_bind_int64(select, 2, static_cast<std::int64_t>(claim_batch));
    while (sqlite3_step(select) == SQLITE_ROW)
      rows.push_back(
        {reinterpret_cast<const char*>(sqlite3_column_text(select, 0)),
         sqlite3_column_int64(select, 1),
         reinterpret_cast<const char*>(sqlite3_column_text(select, 2))});
    sqlite3_reset(select);
    for (auto& r : rows) {
      bind_text(claim, 1, r.id);
      sqlite3_bind_int64(claim, 2, now);
      sqlite3_bind_int64(claim, 3, now + lease_us);
      sqlite3_bind_int64(claim, 4, r.version);
      if (db.run(claim) != 1)
        db.fail("claim lost a row");
      ++r.version;
    }
    db.exec("COMMIT");
    if (rows.empty())
      break;
    ++claims;
    db.exec("BEGIN IMMEDIATE");
    now = now_us();
    for (const auto& r : rows) {
      bind_text(complete, 1, r.id);
      bind_text(complete, 2, r.input);
      sqlite3_bind_int64(complete, 3, now);
      sqlite3_bind_int64(complete, 4, r.version);
      completed += static_cast<std::size_t>(db.run(complete));
    }
    db.exec("COMMIT");
  }
  const double cycle_s = seconds_since(t1);
  auto out = cycle_result(
    "SQLite",
    "SQLite: batched insert, claim and complete transactions on "
    "the store's table and pragmas",
    executions, completed, insert_s, cycle_s, insert_batch, claim_batch,
    claims);
  out.details["synchronous"] = normal_sync ? "NORMAL" : "FULL";
  return out;
}

} // namespace durable::bench
