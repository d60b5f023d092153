#pragma once

#include <string_view>

/// The SQL texts in which the SQLite and the MySQL store differ, for the
/// code they share (storage/sql). Each backend's connection names its own
/// as `connection::dialect` (sqlite/statements.hpp, mysql/statements.hpp).
///
/// Texts number their parameters `?1`, `?2`, ... as SQLite does (the MySQL
/// connection rewrites them). Nothing here holds a value: every value is
/// bound.
namespace durable::storage::sql_detail {

struct dialect {
  /// Appended to a read of rows the transaction is about to write: `FOR
  /// UPDATE` where writers lock rows one by one (MySQL), empty where a write
  /// transaction holds the whole database (SQLite's `BEGIN IMMEDIATE`).
  std::string_view lock_rows;

  /// Appended to the claim's and the pruning's candidate queries: `FOR
  /// UPDATE SKIP LOCKED` (MySQL), so that two nodes take different rows
  /// without waiting for each other; empty for SQLite.
  std::string_view skip_locked;

  /// Put before the WHERE of the query of prunable roots: SQLite's
  /// `INDEXED BY executions_finished_roots`, which SQLite would not choose
  /// by itself for an IN list of statuses; empty for MySQL.
  std::string_view finished_roots_index;

  /// Undoes one transition of a batch, and ends its savepoint.
  std::string_view rollback_to_savepoint;
  std::string_view release_savepoint;

  /// The listing's error-text condition; `{0}` is the parameter holding
  /// the text. It must not fail on a row whose error is not JSON (a
  /// damaged row must not fail the listing of the others).
  std::string_view error_contains;

  /// The node registry's upserts (registry.hpp): a node's report, with
  /// ?1..?9 the columns of `nodes` in order, and a minute's count added,
  /// ?1..?4 `(minute, incarnation, status, count)`.
  std::string_view report_node;
  std::string_view add_finished;
};

} // namespace durable::storage::sql_detail
