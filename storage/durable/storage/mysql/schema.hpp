#pragma once

#include <span>

/// The versioned schema of the MySQL store. Internal to storage/mysql.
///
/// Migrations are numbered from 1 and never edited once released: a change
/// is a new migration, and `mysql_store::schema_version` follows the last
/// one. The versions applied are rows of `durable_migrations`; a store
/// refuses a database whose version it does not know (written by a newer
/// binary).
///
/// **The tables** (InnoDB, utf8mb4): `executions`, one row per execution
/// (times BIGINT microseconds since the epoch, statuses and kinds their
/// numbers, ids and keys VARBINARY, payloads LONGBLOB, sub-objects JSON
/// text); `leaders`, one row per leadership role; `nodes` and
/// `finished_minutes`, the node registry; `events` (migration 2), the
/// cross-node announcements of recent commits (announcements.hpp), read
/// and pruned by its AUTO_INCREMENT primary key `seq`.
///
/// Indexes, one per query (MySQL has no partial indexes, so the status
/// leads where PostgreSQL and SQLite filter by it): the primary key (get,
/// apply); `executions_ready (status, task_id, start_at, id)` (claim, next
/// ready time, ready_backlog); `executions_leased (task_id,
/// lease_expires_at, id)` (the claim's take-over of expired leases and of
/// released rows); `executions_owner (owner)` (renew_leases,
/// release_leases); `executions_parent (parent_id, finished_at, id)`
/// (children_of, cascade, and prune's finished roots, `parent_id IS
/// NULL`); `executions_sleepers (kind, status, expires_at, id)`
/// (scan_sleepers); unique `sleeping_id` and unique `idempotency_key`
/// (several NULLs allowed); `(created_at, id)`, `(status, created_at, id)`
/// and `(task_id, created_at, id)` (list, count_by_status).
///
/// **Threading.** migrate() runs on a connection the caller owns alone.
///
/// **Durability.** DDL commits by itself in MySQL, so migrations are not
/// transactions: they run under `GET_LOCK` (a named lock per database),
/// so several nodes starting on a new database apply each exactly once,
/// and each statement is idempotent (`IF NOT EXISTS`), so a migration
/// interrupted halfway completes at the next start.
///
/// **Errors.** migrate() throws durable::error "database schema version N
/// is newer than this binary supports (M)", "migration <name> failed:
/// <why>", or "cannot take the migration lock"; mysql_error if the server
/// fails otherwise.
namespace durable::storage::mysql_detail {

class connection;

/// One migration: its version, its name and its statements (separated by
/// a line holding only `;`).
struct migration {
  int version;
  const char* name;
  const char* sql;
};

/// Every migration this binary knows, in order.
std::span<const migration> migrations();

/// Applies the migrations `db` lacks (see above).
void migrate(connection& db);

} // namespace durable::storage::mysql_detail
