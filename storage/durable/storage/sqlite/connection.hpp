#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include "durable/error.hpp"
#include "durable/storage/sql/binds.hpp"
#include "durable/storage/sql/dialect.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// The SQLite store's one connection: opening the file, its prepared
/// statements, and how SQLite's failures become exceptions. Internal to
/// storage/sqlite.
///
/// **Threading.** Not thread-safe. The store's mutex guards the connection
/// and every statement prepared on it; a `query` must not outlive the call
/// that prepared it.
///
/// **Durability.** The connection runs in WAL mode with the
/// `synchronous` setting of sqlite_options, so a COMMIT is on the disk
/// (`FULL`) or with the OS (`NORMAL`) once it returns. Transactions are
/// the caller's (transaction.hpp); the connection begins none of its own
/// except the migration at open.
///
/// **Errors.** Every failed SQLite call throws `sqlite_error` with SQLite's
/// extended result code, its message, and what the failure means for the
/// store call (`failure_for`, the one place that decides it; the table is
/// in sqlite/README.md). Nothing is retried here: a writer that finds the
/// database locked by another process waits inside SQLite, up to
/// `sqlite_options::busy_timeout` (`sqlite3_busy_timeout`), and then fails
/// with SQLITE_BUSY, `unavailable`. The store rethrows `sqlite_error` as a
/// `store_error` of the same failure naming the call and the path
/// (transaction.hpp); only a constraint failure is acted on before that (a
/// child that collides rejects its transition, batch_apply.cpp).
namespace durable::storage::sqlite_detail {

/// What a failure with extended result code `code` means for the store
/// call it fails. `at_commit`: the failing statement was the COMMIT of a
/// write, which is the only place an I/O error leaves the outcome unknown.
store_failure failure_for(int code, bool at_commit) noexcept;

/// A failed SQLite call; `code` is the extended result code.
class sqlite_error : public durable::store_error {
public:
  sqlite_error(int code, bool at_commit, std::string message)
    : durable::store_error(failure_for(code, at_commit), std::move(message)),
      code_(code) {}

  int code() const noexcept {
    return code_;
  }

  /// A UNIQUE, NOT NULL, ... constraint failed.
  bool is_constraint() const noexcept {
    return (code_ & 0xff) == SQLITE_CONSTRAINT;
  }

private:
  int code_;
};

/// Throws sqlite_error for `rc`, with `context` (the operation or the SQL
/// text) and the connection's message (SQLite's text for `rc` without one).
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context,
                       bool at_commit = false);

/// One SQLite connection and its prepared statements.
class connection {
public:
  using error = sqlite_error;

  /// The SQL in which this store differs from the MySQL one (statements.cpp).
  static const sql_detail::dialect dialect;

  /// A prepared statement in use; resets it (and its bindings) when done.
  class query : public sql_detail::binds<query> {
  public:
    query(sqlite3* db, sqlite3_stmt* stmt, bool* busy)
      : db_(db), stmt_(stmt), busy_(busy) {}

    query(const query&) = delete;
    query& operator=(const query&) = delete;

    /// Returns a cached statement to the cache, finalizes a temporary one.
    ~query();

    // -- binding (the overloads are binds.hpp's) -----------------------------

    void bind_int64(int i, std::int64_t x) {
      check(sqlite3_bind_int64(stmt_, i, x));
    }

    void bind_text(int i, const std::string& x) {
      check(sqlite3_bind_text(stmt_, i, x.data(), static_cast<int>(x.size()),
                              SQLITE_TRANSIENT));
    }

    void bind_null(int i) {
      check(sqlite3_bind_null(stmt_, i));
    }

    // -- stepping -------------------------------------------------------------

    /// Advances to the next row; false when done.
    bool step();

    /// Runs a statement that returns no rows; returns the rows it changed.
    std::size_t run();

    // -- columns --------------------------------------------------------------

    bool is_null(int i) const {
      return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
    }

    bool is_integer(int i) const {
      return sqlite3_column_type(stmt_, i) == SQLITE_INTEGER;
    }

    std::int64_t int64(int i) const {
      return sqlite3_column_int64(stmt_, i);
    }

    std::string text(int i) const {
      auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
      auto n = sqlite3_column_bytes(stmt_, i);
      return p ? std::string(p, static_cast<std::size_t>(n)) : std::string{};
    }

  private:
    void check(int rc) {
      if (rc != SQLITE_OK)
        fail(db_, rc, "bind");
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_;
    /// The cache entry's in-use flag; null for a temporary twin.
    bool* busy_;
  };

  /// Opens (creating it if needed) the database at `path`, switches it to
  /// WAL mode and migrates its schema (schema.hpp). Throws durable::error
  /// (a store_error of the SQLite failure's kind if SQLite failed)
  /// "cannot open SQLite database \"<path>\": <why>".
  connection(const std::string& path, const sqlite_options& opts);

  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// The prepared statement for `sql`, ready to bind. Statements are cached;
  /// a statement already in use gets a temporary twin.
  query prepare(const std::string& sql);

  /// Runs statements without parameters.
  void exec(const std::string& sql);

  /// A constraint that failed an insert the call had checked: not a race
  /// (the write lock has been held since the check), so rethrown as it is.
  [[noreturn]] static void raced(const sqlite_error& e) {
    throw e;
  }

  /// BEGIN IMMEDIATE for a write (SQLite's write lock, taken at once, so
  /// that what the transaction reads stays true until its COMMIT, even with
  /// other processes on the file), a plain BEGIN for a read.
  void begin(bool write) {
    exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
  }

  /// COMMIT. Its failure is classified as a commit's (failure_for).
  void commit();

  /// The first column of the first row of `sql` (0 / empty if none).
  std::int64_t pragma_int(const std::string& sql);
  std::string pragma_text(const std::string& sql);

  /// ROLLBACK, ignoring its failure: for a caller that already has an
  /// error in flight (SQLite drops the transaction anyway).
  void rollback_quietly() noexcept;

private:
  /// Finalizes the cached statements, then closes: sqlite3_close_v2()
  /// with a statement left open only marks the connection a zombie, and
  /// its memory is never freed.
  void close() noexcept;

  void run_sql(const std::string& sql, bool at_commit);

  struct cached {
    sqlite3_stmt* stmt = nullptr;
    bool busy = false;
  };

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, cached> cache_;
};

using query = connection::query;

} // namespace durable::storage::sqlite_detail
