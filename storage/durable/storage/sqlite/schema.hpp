#pragma once

#include <span>

/// The versioned schema of the SQLite store. Internal to storage/sqlite.
///
/// Migrations are numbered from 1 and never edited once released: a change
/// is a new migration, and `sqlite_store::schema_version` follows the last
/// one. The version applied is the database's `PRAGMA user_version`; a
/// store refuses to open a database whose version it does not know
/// (written by a newer binary).
///
/// **The table** `executions` keeps one row per execution: times as
/// INTEGER microseconds since the epoch (exact round trips of
/// `durable::timestamp`), statuses and kinds as their stored integers,
/// sub-objects (retry options, parent link, children, finalize, error) as
/// JSON text. `leaders` (version 2) holds one row per leadership role.
///
/// Indexes, one per query: the primary key (get, apply); ready rows by
/// `(task_id, start_at, id)` (claim, next ready time); active rows by
/// `(task_id, lease_expires_at, id)` (the claim's take-over of expired
/// leases); rows by owner (renew_leases, release_leases); children by
/// parent id (children_of, cascade); live sleepers by deadline
/// (scan_sleepers); unique sleeping id and unique idempotency key; since
/// version 3 every row by `(created_at, id)`, `(status, created_at, id)`
/// and `(task_id, created_at, id)` (list, count_by_status); since version 4
/// finished roots by `(finished_at, id)` (prune, which reads each tree
/// through the parent index).
///
/// **Threading.** migrate() runs on a connection the caller owns alone.
///
/// **Durability.** The missing migrations run in one `BEGIN IMMEDIATE`
/// transaction: several processes opening the same new file apply each
/// exactly once, and a failure leaves the database as it was.
///
/// **Errors.** migrate() throws durable::error "database schema version N
/// is newer than this binary supports (M)" or "migration <name> failed:
/// <why>"; sqlite_error if the transaction itself fails.
namespace durable::storage::sqlite_detail {

class connection;

/// One migration: its version, its name and its SQL.
struct migration {
  int version;
  const char* name;
  const char* sql;
};

/// Every migration this binary knows, in order.
std::span<const migration> migrations();

/// Applies the migrations `db` lacks (see above).
void migrate(connection& db);

} // namespace durable::storage::sqlite_detail
