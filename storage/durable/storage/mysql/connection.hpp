#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <mysql.h>

#include "durable/error.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/storage/sql/binds.hpp"
#include "durable/storage/sql/dialect.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// The MySQL store's connection: RAII wrappers of MariaDB Connector/C's
/// `MYSQL*` and `MYSQL_STMT*`, and how the server's and the client's error
/// codes become `store_failure`s. Internal to storage/mysql.
///
/// **Threading.** Not thread-safe. The store's mutex guards the connection
/// and every statement prepared on it; a `query` must not outlive the call
/// that prepared it.
///
/// **Statements.** SQL texts number their parameters like SQLite's, `?1`,
/// `?2`, ... (a number may appear several times); prepare() rewrites them
/// to MySQL's positional `?` and binds each position from its number.
/// Results are buffered whole (`mysql_stmt_store_result`), every column
/// fetched as bytes (integers parsed from their text), so a statement's
/// rows can be read while another statement runs.
///
/// **Errors.** Every failed call throws `mysql_error`, with the error code,
/// the message and the failure `failure_for` gives it (the table is in
/// mysql/README.md). A failure that lost the connection marks it broken;
/// the store reconnects before its next try.
namespace durable::storage::mysql_detail {

/// Where a store connects, parsed from a `mysql://` URL.
struct url_parts {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string user = "root";
  std::optional<std::string> password;
  std::string database;
  /// A unix socket path (`?socket=/path`), used instead of host and port.
  std::optional<std::string> socket;
};

/// Parses `mysql://user[:password]@host[:port]/database[?socket=path]`
/// (also `mariadb://`); user, password and database are percent-decoded.
/// Throws durable::error "invalid MySQL URL: <why>" (the password
/// redacted).
url_parts parse_url(const std::string& url);

/// What a failure with MySQL error `code` means for the store call it
/// fails. `at_commit`: it failed a COMMIT, whose outcome a lost
/// connection leaves unknown.
store_failure failure_for(unsigned code, bool at_commit) noexcept;

/// Whether `code` says the connection is gone (client 2006, 2013, 2055,
/// ...; a server shutting down or killing the session).
bool is_connection_error(unsigned code) noexcept;

/// A failed MySQL call; `code` is the server's or the client's error code.
class mysql_error : public durable::store_error {
public:
  mysql_error(unsigned code, bool at_commit, std::string message)
    : durable::store_error(failure_for(code, at_commit), std::move(message)),
      code_(code) {}

  unsigned code() const noexcept {
    return code_;
  }

  /// A unique key (1062, ER_DUP_ENTRY) refused the row. (Other refusals,
  /// a NULL or a value too long for its column, are `fatal` failures.)
  bool is_constraint() const noexcept {
    return code_ == 1062;
  }

private:
  unsigned code_;
};

/// One prepared statement as the connection caches it.
struct statement {
  MYSQL_STMT* stmt = nullptr;
  /// For each `?` of the rewritten text, the number (from 1) it had.
  std::vector<int> positions;
  /// The largest parameter number.
  int params = 0;
  bool busy = false;
  ~statement();
};

/// One MySQL connection and its prepared statements.
class connection {
public:
  using error = mysql_error;

  /// The SQL in which this store differs from the SQLite one
  /// (statements.cpp).
  static const sql_detail::dialect dialect;

  /// A prepared statement in use: bind, run, read. Frees its result (and
  /// gives the statement back to the cache) when done.
  class query : public sql_detail::binds<query> {
  public:
    query(connection& db, std::shared_ptr<statement> st);

    query(const query&) = delete;
    query& operator=(const query&) = delete;

    ~query();

    // -- binding (the overloads are binds.hpp's) -----------------------------

    void bind_int64(int i, std::int64_t x) {
      slot(i) = x;
    }

    void bind_text(int i, const std::string& x) {
      slot(i) = x;
    }

    void bind_null(int i) {
      slot(i) = std::monostate{};
    }

    // -- running --------------------------------------------------------------

    /// Runs the statement (once) and advances to its next row; false when
    /// done.
    bool step();

    /// Runs a statement that returns no rows; returns the rows it matched
    /// (the connection reports found rows, not changed ones).
    std::size_t run();

    // -- columns --------------------------------------------------------------

    bool is_null(int i) const {
      return cols_[static_cast<std::size_t>(i)].null;
    }

    /// Whether the column's type is an integer (or a decimal without a
    /// fraction, as SUM() returns).
    bool is_integer(int i) const;

    /// The column as a 64-bit integer (0 for NULL or a non-number).
    std::int64_t int64(int i) const;

    std::string text(int i) const {
      const auto& c = cols_[static_cast<std::size_t>(i)];
      return c.null ? std::string{} : std::string(c.buf.data(), c.length);
    }

  private:
    using value = std::variant<std::monostate, std::int64_t, std::string>;

    value& slot(int i);
    void execute();

    struct column {
      std::vector<char> buf;
      unsigned long length = 0;
      my_bool null = 0;
      my_bool error = 0;
      enum_field_types type = MYSQL_TYPE_NULL;
      unsigned decimals = 0;
    };

    connection& db_;
    std::shared_ptr<statement> st_;
    std::vector<value> values_;
    std::vector<column> cols_;
    std::vector<MYSQL_BIND> result_binds_;
    bool executed_ = false;
    bool has_result_ = false;
  };

  /// Connects to `where` (utf8mb4, found rows, READ COMMITTED, the lock
  /// wait timeout of `opts`). Throws mysql_error.
  connection(const url_parts& where, const mysql_options& opts);

  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// The prepared statement for `sql` (`?n` parameters). Cached per text;
  /// a statement already in use gets a temporary twin.
  query prepare(const std::string& sql);

  /// Runs SQL text without parameters (several statements separated by
  /// `;` are not allowed: one at a time). Rows it returns are dropped.
  void exec(const std::string& sql);

  /// The first column of the first row of `sql` (nullopt if none or NULL).
  std::optional<std::string> scalar(const std::string& sql);

  /// A duplicate key that failed an insert the call had checked: another
  /// node inserted the same id, key or sleeping id since the check read.
  /// Thrown as a deadlock (1213), a conflict, so that the call runs again
  /// and finds that row.
  [[noreturn]] static void raced(const mysql_error& e) {
    throw mysql_error(1213, false,
                      std::string{"insert raced another writer: "} + e.what());
  }

  /// START TRANSACTION (READ ONLY for a read), at the session's READ
  /// COMMITTED.
  void begin(bool write) {
    exec(write ? "START TRANSACTION" : "START TRANSACTION READ ONLY");
  }

  /// COMMIT. A lost connection here is `in_doubt` (failure_for).
  void commit();

  /// ROLLBACK, ignoring its failure: for a caller that already has an
  /// error in flight (a lost connection rolls back on the server anyway).
  void rollback_quietly() noexcept;

  /// False once a call lost the connection: the store reconnects.
  bool healthy() const noexcept {
    return healthy_;
  }

  /// Throws mysql_error for the connection's last error, with `context`.
  [[noreturn]] void fail(std::string_view context, bool at_commit = false);

  /// Throws mysql_error for `stmt`'s last error, with `context`.
  [[noreturn]] void fail_stmt(MYSQL_STMT* stmt, std::string_view context);

private:
  MYSQL* db_ = nullptr;
  bool healthy_ = true;
  std::unordered_map<std::string, std::shared_ptr<statement>> cache_;
};

using query = connection::query;

} // namespace durable::storage::mysql_detail
