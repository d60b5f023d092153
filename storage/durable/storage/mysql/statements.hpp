#pragma once

#include <string>

#include "durable/storage/mysql/row_codec.hpp"

/// Every SQL text the MySQL store prepares, except the listing's, whose
/// WHERE clause follows the filter (listing.cpp). Internal to
/// storage/mysql.
///
/// The texts are constants, or built once from the column names of
/// row_codec.hpp; never from values: every value is a bound parameter
/// (`?n`, rewritten to MySQL's `?` by connection.hpp). Full-row
/// statements list the columns in row_codec's order.
///
/// **Threading.** The built texts are function-local statics, safe to
/// first use from any thread.
///
/// **Durability.** Texts only; the transaction that runs them is the
/// caller's (transaction.hpp), at READ COMMITTED: a write reads the rows
/// it changes with `FOR UPDATE` (a claim with `SKIP LOCKED`) and writes
/// them guarded by version, so a read-then-write never races another node.
///
/// **Errors.** None here; a text the server refuses fails when prepared
/// (connection.hpp).
namespace durable::storage::mysql_detail {

// -- full rows ----------------------------------------------------------------

/// The parameter of the guarded update that holds the expected version.
inline constexpr int version_param = static_cast<int>(columns.size()) + 1;

/// "SELECT <every column> FROM executions ", to be followed by a WHERE.
const std::string& select_sql();

/// Inserts a full row (?1..?35).
const std::string& insert_sql();

/// Overwrites the row with id ?1 (every other column from ?2..?35).
const std::string& update_sql();

/// update_sql() if the stored version is still ?version_param.
const std::string& guarded_update_sql();

/// The row with id ?1.
const std::string& by_id_sql();

/// The row with id ?1, locked until the commit (`FOR UPDATE`).
const std::string& by_id_locked_sql();

/// The rows whose parent is ?1.
const std::string& children_sql();

/// The row with sleeping id ?1.
const std::string& by_sleeping_id_sql();

/// At most ?2 live sleepers whose deadline is at or before ?1, earliest
/// first.
const std::string& sleepers_due_sql();

// -- single columns -----------------------------------------------------------

/// The id of the row with idempotency key ?1.
extern const char* const id_by_key_sql;
/// The task of the row with id ?1.
extern const char* const task_by_id_sql;
/// The id of the row with id ?1 (whether it exists).
extern const char* const id_by_id_sql;
/// The id of the row with sleeping id ?1.
extern const char* const id_by_sleeping_sql;

/// The schema version (the highest applied migration).
extern const char* const schema_version_sql;
/// The number of rows.
extern const char* const count_sql;

// -- apply --------------------------------------------------------------------

/// The savepoint around one transition of a batch.
extern const char* const savepoint_sql;
extern const char* const rollback_to_savepoint_sql;
extern const char* const release_savepoint_sql;

// -- claim --------------------------------------------------------------------

/// `(start_at, id)` of at most ?3 ready rows of task ?1 due at ?2, oldest
/// first, locked, skipping rows another transaction holds.
extern const char* const ready_sql;
/// `(lease_expires_at, id, kind, status)` of at most ?3 active rows of task
/// ?1 whose lease ran out at ?2 (running sleepers excepted), oldest first,
/// locked, skipping rows another transaction holds.
extern const char* const expired_sql;
/// The ids of at most ?2 active rows of task ?1 without a lease (released
/// by their owner; running sleepers excepted).
extern const char* const unleased_sql;
/// The earliest start after ?2 of a ready row of task ?1 (NULL if none).
extern const char* const next_ready_sql;

// -- leases and leadership ----------------------------------------------------

/// The ids of the active rows of owner ?1, locked.
extern const char* const owned_ids_sql;
/// Gives the active rows of owner ?2 the lease ?1, unless their lease is
/// at or after ?3 (store_rules::renewal_due).
extern const char* const renew_sql;
/// Hands every active row of owner ?2 back, its lease set to ?1.
extern const char* const release_leases_sql;
/// Takes role ?1 for owner ?2 until ?3 if nobody has it; inserts one row
/// if taken.
extern const char* const lead_insert_sql;
/// Takes role ?1 for owner ?2 until ?3 if it is ours or expired by ?4;
/// matches one row if taken.
extern const char* const lead_update_sql;

// -- scans and store-managed fields -------------------------------------------

/// The earliest deadline after ?1 of a live sleeper (NULL if none).
extern const char* const next_deadline_sql;
/// Marks row ?1 watched.
extern const char* const watch_sql;
/// Deletes row ?1.
extern const char* const erase_sql;

} // namespace durable::storage::mysql_detail
