#pragma once

#include <exception>
#include <string>
#include <string_view>

/// How the PostgreSQL backend treats each libpqxx exception (STYLE.md §4.5,
/// modelled on libpqxx's `transactor.hxx`): retry what is safe to retry,
/// never retry what may have committed.
///
/// | libpqxx 6.4 exception                         | decision          |
/// |-----------------------------------------------|-------------------|
/// | `in_doubt_error`, `statement_completion_unknown` | in_doubt: never retried
/// (checked *before* `transaction_rollback`, their base) | |
/// `serialization_failure`, `deadlock_detected`, other `transaction_rollback` |
/// conflict: re-run the whole transaction | | `broken_connection`, SQLSTATE
/// class 08, 57P01..57P03 (server shut down or restarting), 53300 | reconnect:
/// new connection, re-run if COMMIT was never sent | | `unique_violation` and
/// other `sql_error`      | fatal (a bug or schema drift) | | `usage_error`,
/// `argument_error`, `conversion_error`, anything else | fatal |
namespace durable::storage::pg {

/// What to do after a failed transaction.
enum class failure_kind {
  conflict,  ///< rolled back by the server; re-run the transaction
  reconnect, ///< the connection is gone; re-run on a new one if safe
  in_doubt,  ///< COMMIT may or may not have happened; never re-run
  fatal,     ///< give up at once
};

/// The decision and a message without SQL text or secrets.
struct classified_failure {
  failure_kind kind = failure_kind::fatal;
  /// E.g. "serialization failure (SQLSTATE 40001)".
  std::string what;
};

/// Classifies the exception in flight (`ep` must not be null).
classified_failure classify(std::exception_ptr ep);

/// The SQLSTATE codes that mean "the server went away": treat as a broken
/// connection even when libpqxx reports a plain sql_error.
bool is_connection_sqlstate(std::string_view sqlstate) noexcept;

} // namespace durable::storage::pg
