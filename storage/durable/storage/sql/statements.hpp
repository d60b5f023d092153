#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "durable/storage/sql/row_codec.hpp"

/// The SQL texts the SQLite and the MySQL store prepare alike: full-row
/// statements in row_codec's column order, and single-column lookups.
/// Where they differ, the text is the backend's (dialect.hpp, and
/// sqlite/statements.hpp, mysql/statements.hpp). Internal to storage/sql.
///
/// Texts number their parameters (`?n`; the MySQL connection rewrites them
/// to its positional `?`). Every value is bound, none is formatted in.
///
/// **Threading.** The texts are built once (function-local statics) and
/// only read afterwards.
///
/// **Errors.** None here; a text the database refuses fails when prepared.
namespace durable::storage::sql_detail {

// -- full rows ----------------------------------------------------------------

/// The parameter of the guarded update that holds the expected version.
inline constexpr int version_param = static_cast<int>(columns.size()) + 1;

/// "SELECT <every column> FROM executions ", to be followed by a WHERE.
inline const std::string& select_sql() {
  static const std::string sql = "SELECT " + column_list()
                                 + " FROM executions ";
  return sql;
}

/// Inserts a full row (?1..?columns.size()).
inline const std::string& insert_sql() {
  static const std::string sql = [] {
    std::string params;
    for (std::size_t i = 1; i <= columns.size(); ++i)
      params += fmt::format("{}?{}", i > 1 ? ", " : "", i);
    return "INSERT INTO executions (" + column_list() + ") VALUES (" + params
           + ")";
  }();
  return sql;
}

/// Overwrites the row with id ?1 (every other column from ?2 on).
inline const std::string& update_sql() {
  static const std::string sql = [] {
    std::string sets;
    for (std::size_t i = 2; i <= columns.size(); ++i)
      sets += fmt::format("{}{} = ?{}", i > 2 ? ", " : "", columns[i - 1], i);
    return fmt::format("UPDATE executions SET {} WHERE id = ?1", sets);
  }();
  return sql;
}

/// update_sql() if the stored version is still ?version_param.
inline const std::string& guarded_update_sql() {
  static const std::string sql = update_sql()
                                 + fmt::format(" AND version = ?{}",
                                               version_param);
  return sql;
}

/// The row with id ?1.
inline const std::string& by_id_sql() {
  static const std::string sql = select_sql() + "WHERE id = ?1";
  return sql;
}

/// The rows whose parent is ?1.
inline const std::string& children_sql() {
  static const std::string sql = select_sql() + "WHERE parent_id = ?1";
  return sql;
}

/// The row with sleeping id ?1.
inline const std::string& by_sleeping_id_sql() {
  static const std::string sql = select_sql() + "WHERE sleeping_id = ?1";
  return sql;
}

/// At most ?2 live sleepers whose deadline is at or before ?1, earliest
/// first.
inline const std::string& sleepers_due_sql() {
  static const std::string sql = select_sql()
                                 + "WHERE kind = 4 AND status = 1 AND "
                                   "expires_at <= ?1 "
                                   "ORDER BY expires_at, id LIMIT ?2";
  return sql;
}

// -- single columns -----------------------------------------------------------

/// The id of the row with idempotency key ?1.
inline constexpr const char* id_by_key_sql = "SELECT id FROM executions "
                                             "WHERE idempotency_key = ?1";
/// The task of the row with id ?1.
inline constexpr const char* task_by_id_sql = "SELECT task_id FROM executions "
                                              "WHERE id = ?1";
/// The id of the row with id ?1 (whether it exists).
inline constexpr const char* id_by_id_sql = "SELECT id FROM executions WHERE "
                                            "id = ?1";
/// The id of the row with sleeping id ?1.
inline constexpr const char* id_by_sleeping_sql = "SELECT id FROM executions "
                                                  "WHERE sleeping_id = ?1";
/// The number of rows.
inline constexpr const char* count_sql = "SELECT COUNT(*) FROM executions";

// -- apply --------------------------------------------------------------------

/// The savepoint around one transition of a batch (its rollback and
/// release are the dialect's).
inline constexpr const char* savepoint_sql = "SAVEPOINT transition";

// -- claim --------------------------------------------------------------------

// The candidates of a claim, each followed by the dialect's `skip_locked`.

/// `(start_at, id)` of at most ?3 ready rows of task ?1 due at ?2, oldest
/// first. Served by executions_ready.
inline constexpr std::string_view ready_sql = "SELECT start_at, id FROM "
                                              "executions WHERE status = 0 "
                                              "AND task_id = ?1 AND start_at "
                                              "<= ?2 ORDER BY start_at, id "
                                              "LIMIT ?3";
/// `(lease_expires_at, id, kind, status)` of at most ?3 active rows of task
/// ?1 whose lease ran out at ?2 (running sleepers excepted), oldest first.
/// Served by executions_leased.
inline constexpr std::string_view expired_sql
  = "SELECT lease_expires_at, id, kind, status FROM executions "
    "WHERE task_id = ?1 AND lease_expires_at <= ?2 AND status IN (1, 2, 3) "
    "AND NOT (status = 1 AND kind = 4) "
    "ORDER BY lease_expires_at, id LIMIT ?3";
/// The ids of at most ?2 active rows of task ?1 without a lease (released
/// by their owner; running sleepers excepted).
inline constexpr std::string_view unleased_sql
  = "SELECT id FROM executions WHERE task_id = ?1 "
    "AND lease_expires_at IS NULL AND status IN (1, 2, 3) "
    "AND NOT (status = 1 AND kind = 4) ORDER BY id LIMIT ?2";

/// The earliest start after ?2 of a ready row of task ?1 (NULL if none).
inline constexpr const char* next_ready_sql = "SELECT MIN(start_at) FROM "
                                              "executions WHERE status = 0 "
                                              "AND task_id = ?1 AND start_at "
                                              "> ?2";

// -- leases -------------------------------------------------------------------

/// Hands every active row of owner ?2 back, its lease set to ?1.
inline constexpr const char* release_leases_sql
  = "UPDATE executions SET lease_expires_at = ?1, owner = NULL "
    "WHERE owner = ?2 AND status IN (0, 1, 2, 3)";

// -- scans and store-managed fields -------------------------------------------

/// The earliest deadline after ?1 of a live sleeper (NULL if none).
inline constexpr const char* next_deadline_sql = "SELECT MIN(expires_at) FROM "
                                                 "executions WHERE kind = 4 "
                                                 "AND status = 1 AND "
                                                 "expires_at > ?1";
/// Marks row ?1 watched.
inline constexpr const char* watch_sql = "UPDATE executions SET watched = 1 "
                                         "WHERE id = ?1";
/// Deletes row ?1.
inline constexpr const char* erase_sql = "DELETE FROM executions WHERE id = "
                                         "?1";

} // namespace durable::storage::sql_detail
