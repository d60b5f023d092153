#include "durable/storage/mysql/statements.hpp"

#include <cstddef>

#include <fmt/format.h>

namespace durable::storage::mysql_detail {

// -- full rows ----------------------------------------------------------------

const std::string& select_sql() {
  static const std::string sql = "SELECT " + column_list()
                                 + " FROM executions ";
  return sql;
}

const std::string& insert_sql() {
  static const std::string sql = [] {
    std::string params;
    for (std::size_t i = 1; i <= columns.size(); ++i)
      params += fmt::format("{}?{}", i > 1 ? ", " : "", i);
    return "INSERT INTO executions (" + column_list() + ") VALUES (" + params
           + ")";
  }();
  return sql;
}

const std::string& update_sql() {
  static const std::string sql = [] {
    std::string sets;
    for (std::size_t i = 2; i <= columns.size(); ++i)
      sets += fmt::format("{}{} = ?{}", i > 2 ? ", " : "", columns[i - 1], i);
    return fmt::format("UPDATE executions SET {} WHERE id = ?1", sets);
  }();
  return sql;
}

const std::string& guarded_update_sql() {
  static const std::string sql = update_sql()
                                 + fmt::format(" AND version = ?{}",
                                               version_param);
  return sql;
}

const std::string& by_id_sql() {
  static const std::string sql = select_sql() + "WHERE id = ?1";
  return sql;
}

const std::string& by_id_locked_sql() {
  static const std::string sql = by_id_sql() + " FOR UPDATE";
  return sql;
}

const std::string& children_sql() {
  static const std::string sql = select_sql() + "WHERE parent_id = ?1";
  return sql;
}

const std::string& by_sleeping_id_sql() {
  static const std::string sql = select_sql() + "WHERE sleeping_id = ?1";
  return sql;
}

const std::string& sleepers_due_sql() {
  static const std::string sql = select_sql()
                                 + "WHERE kind = 4 AND status = 1 AND "
                                   "expires_at <= ?1 "
                                   "ORDER BY expires_at, id LIMIT ?2";
  return sql;
}

// -- single columns -----------------------------------------------------------

const char* const id_by_key_sql = "SELECT id FROM executions WHERE "
                                  "idempotency_key = ?1";
const char* const task_by_id_sql = "SELECT task_id FROM executions WHERE id = "
                                   "?1";
const char* const id_by_id_sql = "SELECT id FROM executions WHERE id = ?1";
const char* const id_by_sleeping_sql = "SELECT id FROM executions WHERE "
                                       "sleeping_id = ?1";

const char* const schema_version_sql = "SELECT COALESCE(MAX(version), 0) FROM "
                                       "durable_migrations";
const char* const count_sql = "SELECT COUNT(*) FROM executions";

// -- apply --------------------------------------------------------------------

const char* const savepoint_sql = "SAVEPOINT transition";
const char* const rollback_to_savepoint_sql = "ROLLBACK TO SAVEPOINT "
                                              "transition";
const char* const release_savepoint_sql = "RELEASE SAVEPOINT transition";

// -- claim --------------------------------------------------------------------

// Served by executions_ready (status, task_id, start_at, id).
const char* const ready_sql = "SELECT start_at, id FROM executions "
                              "WHERE status = 0 AND task_id = ?1 AND start_at "
                              "<= ?2 "
                              "ORDER BY start_at, id LIMIT ?3 "
                              "FOR UPDATE SKIP LOCKED";
// Served by executions_leased (task_id, lease_expires_at, id).
const char* const expired_sql
  = "SELECT lease_expires_at, id, kind, status FROM executions "
    "WHERE task_id = ?1 AND lease_expires_at <= ?2 AND status IN (1, 2, 3) "
    "AND NOT (status = 1 AND kind = 4) "
    "ORDER BY lease_expires_at, id LIMIT ?3 FOR UPDATE SKIP LOCKED";
const char* const unleased_sql = "SELECT id FROM executions "
                                 "WHERE task_id = ?1 "
                                 "AND lease_expires_at IS NULL "
                                 "AND status IN (1, 2, 3) "
                                 "AND NOT (status = 1 AND kind = 4) "
                                 "ORDER BY id LIMIT ?2 FOR UPDATE SKIP LOCKED";
const char* const next_ready_sql = "SELECT MIN(start_at) FROM executions "
                                   "WHERE status = 0 AND task_id = ?1 AND "
                                   "start_at > ?2";

// -- leases and leadership ----------------------------------------------------

// Served by executions_owner (owner).
const char* const owned_ids_sql = "SELECT id FROM executions WHERE owner = ?1 "
                                  "AND status IN (0, 1, 2, 3) FOR UPDATE";
const char* const renew_sql = "UPDATE executions SET lease_expires_at = ?1 "
                              "WHERE owner = ?2 AND status IN (0, 1, 2, 3) "
                              "AND (lease_expires_at IS NULL OR "
                              "lease_expires_at < ?3)";
const char* const release_leases_sql
  = "UPDATE executions "
    "SET lease_expires_at = ?1, owner = NULL "
    "WHERE owner = ?2 AND status IN (0, 1, 2, 3)";
const char* const lead_insert_sql = "INSERT IGNORE INTO leaders (role, owner, "
                                    "expires_at) VALUES (?1, ?2, ?3)";
const char* const lead_update_sql = "UPDATE leaders SET owner = ?2, "
                                    "expires_at = ?3 WHERE role = ?1 AND "
                                    "(owner = ?2 OR expires_at <= ?4)";

// -- scans and store-managed fields -------------------------------------------

const char* const next_deadline_sql = "SELECT MIN(expires_at) FROM executions "
                                      "WHERE kind = 4 AND status = 1 AND "
                                      "expires_at > ?1";
const char* const watch_sql = "UPDATE executions SET watched = 1 WHERE id = ?1";
const char* const erase_sql = "DELETE FROM executions WHERE id = ?1";

} // namespace durable::storage::mysql_detail
