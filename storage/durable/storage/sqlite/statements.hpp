#pragma once

#include "durable/storage/sql/statements.hpp"

/// The SQL texts only the SQLite store prepares; those it shares with the
/// MySQL store are in ../sql/statements.hpp, and its dialect
/// (`connection::dialect`) is defined in statements.cpp. Internal to
/// storage/sqlite.
///
/// **Durability.** Writes run under `BEGIN IMMEDIATE` (transaction.hpp), so
/// a read-then-write here never races another process.
namespace durable::storage::sqlite_detail {

using namespace sql_detail;

/// The schema version (`PRAGMA user_version`).
inline constexpr const char* schema_version_sql = "PRAGMA user_version";

/// Gives the active rows of owner ?2 the lease ?1, unless their lease is
/// at or after ?3 (store_rules::renewal_due); returns every id it matched.
inline constexpr const char* renew_sql
  = "UPDATE executions SET lease_expires_at = CASE WHEN lease_expires_at IS "
    "NULL OR lease_expires_at < ?3 THEN ?1 ELSE lease_expires_at END "
    "WHERE owner = ?2 AND status IN (0, 1, 2, 3) RETURNING id";

/// Takes role ?1 for owner ?2 until ?3 if it is free, ours, or expired by
/// ?4; changes one row if taken.
inline constexpr const char* lead_sql
  = "INSERT INTO leaders (role, owner, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, "
    "expires_at = excluded.expires_at "
    "WHERE leaders.owner = excluded.owner OR leaders.expires_at <= ?4";

} // namespace durable::storage::sqlite_detail
