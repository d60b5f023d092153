#pragma once

#include "durable/storage/sql/statements.hpp"

/// The SQL texts only the MySQL store prepares; those it shares with the
/// SQLite store are in ../sql/statements.hpp, and its dialect
/// (`connection::dialect`) is defined in statements.cpp. Internal to
/// storage/mysql.
///
/// **Durability.** Transactions run at READ COMMITTED (transaction.hpp): a
/// write reads the rows it changes with `FOR UPDATE` (a claim with `SKIP
/// LOCKED`) and writes them guarded by version, so a read-then-write never
/// races another node.
namespace durable::storage::mysql_detail {

using namespace sql_detail;

/// The schema version (the highest applied migration).
inline constexpr const char* schema_version_sql = "SELECT COALESCE(MAX("
                                                  "version), 0) FROM "
                                                  "durable_migrations";

/// The ids of the active rows of owner ?1, locked. Served by
/// executions_owner (owner).
inline constexpr const char* owned_ids_sql = "SELECT id FROM executions WHERE "
                                             "owner = ?1 AND status IN (0, 1, "
                                             "2, 3) FOR UPDATE";

/// Gives the active rows of owner ?2 the lease ?1, unless their lease is
/// at or after ?3 (store_rules::renewal_due). MariaDB has no UPDATE ...
/// RETURNING: owned_ids_sql reads the ids first.
inline constexpr const char* renew_sql = "UPDATE executions SET "
                                         "lease_expires_at = ?1 WHERE owner = "
                                         "?2 AND status IN (0, 1, 2, 3) AND "
                                         "(lease_expires_at IS NULL OR "
                                         "lease_expires_at < ?3)";

/// Takes role ?1 for owner ?2 until ?3 if nobody has it; inserts one row
/// if taken.
inline constexpr const char* lead_insert_sql = "INSERT IGNORE INTO leaders "
                                               "(role, owner, expires_at) "
                                               "VALUES (?1, ?2, ?3)";
/// Takes role ?1 for owner ?2 until ?3 if it is ours or expired by ?4;
/// matches one row if taken.
inline constexpr const char* lead_update_sql = "UPDATE leaders SET owner = "
                                               "?2, expires_at = ?3 WHERE "
                                               "role = ?1 AND (owner = ?2 OR "
                                               "expires_at <= ?4)";

} // namespace durable::storage::mysql_detail
