#pragma once

#include <array>
#include <string>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/storage/sqlite/connection.hpp"

/// How an execution_record maps to the columns of `executions` and back.
/// Internal to storage/sqlite.
///
/// **Threading.** Pure functions of their arguments; the `query` they read
/// or bind is the caller's (connection.hpp).
///
/// **Durability.** Nothing is written here. Times go in and out as INTEGER
/// microseconds, exactly; JSON columns are written with invalid UTF-8
/// replaced (an error message taken from an exception may carry any bytes,
/// and losing them beats losing the write).
///
/// **Errors.** decode_row() never throws for what a row holds: a column
/// that cannot be decoded (broken JSON, a non-integer where an integer
/// belongs, an unknown status or kind) is listed in `decoded::problems`
/// and its field keeps its default; an unfinished row holding a number out
/// of range (stored_ranges.hpp) is listed in `decoded::invalid`. The
/// caller repairs such a row (transaction.hpp). Binding throws sqlite_error.
namespace durable::storage::sqlite_detail {

/// Column order of every full-row statement (statements.hpp); bind_row()
/// and decode_row() follow it.
inline constexpr std::array<const char*, 35> columns{
  "id",
  "task_id",
  "kind",
  "parent_id",
  "parent",
  "root_task_id",
  "root_execution_id",
  "sleeping_id",
  "idempotency_key",
  "retry",
  "sleep_before_run_ms",
  "timeout_ms",
  "input",
  "output",
  "run_output",
  "error",
  "status",
  "version",
  "attempt",
  "recoveries",
  "owner",
  "lease_expires_at",
  "start_at",
  "created_at",
  "updated_at",
  "started_at",
  "expires_at",
  "waiting_for_children_started_at",
  "waiting_for_finalize_started_at",
  "finished_at",
  "closed_at",
  "children",
  "finalize",
  "step",
  "watched",
};

/// "id, task_id, ...": every column, in order.
std::string column_list();

/// Binds every column of `r` to parameters 1..columns.size() of `q`.
void bind_row(query& q, const execution_record& r);

/// A row as read: the record, what could not be decoded, and the numbers
/// of an unfinished row out of range (stored_ranges.hpp).
struct decoded {
  execution_record row;
  std::vector<std::string> problems;
  std::vector<std::string> invalid;

  /// Whether the row must be failed instead of used.
  bool corrupt() const noexcept {
    return !problems.empty() || !invalid.empty();
  }

  /// The error the row is failed with.
  std::string error_message() const;

  /// What was wrong, for the `corrupt` event.
  std::string detail() const;
};

/// The current row of `q`, a full-row statement.
decoded decode_row(const query& q);

// The pg store has its own copies of these two (storage/pg).

/// The parent's execution id, empty for a top-level row.
std::string parent_id_of(const execution_record& r);

/// Whether `r` is a sleeper that scan_sleepers() may still report.
bool is_live_sleeper(const execution_record& r) noexcept;

} // namespace durable::storage::sqlite_detail
