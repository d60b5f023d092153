#include "durable/storage/mysql/schema.hpp"

#include <array>
#include <exception>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"

namespace durable::storage::mysql_detail {

namespace {

// Append only: a released migration never changes, a new one gets the next
// version (and mysql_store::schema_version follows it). Statements are
// separated by a line holding only ';'.
constexpr std::array<migration, 2> all_migrations{{
  {1, "0001_create_tables", R"sql(
CREATE TABLE IF NOT EXISTS executions (
  id VARBINARY(255) NOT NULL,
  task_id VARBINARY(255) NOT NULL,
  kind BIGINT NOT NULL,
  parent_id VARBINARY(255),
  parent LONGTEXT,
  root_task_id VARBINARY(255) NOT NULL,
  root_execution_id VARBINARY(255) NOT NULL,
  sleeping_id VARBINARY(512),
  idempotency_key VARBINARY(512),
  retry LONGTEXT NOT NULL,
  sleep_before_run_ms BIGINT NOT NULL,
  timeout_ms BIGINT NOT NULL,
  input LONGBLOB NOT NULL,
  output LONGBLOB,
  run_output LONGBLOB,
  error LONGTEXT,
  status BIGINT NOT NULL,
  version BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  recoveries BIGINT NOT NULL,
  owner VARBINARY(255),
  lease_expires_at BIGINT,
  start_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT,
  expires_at BIGINT,
  waiting_for_children_started_at BIGINT,
  waiting_for_finalize_started_at BIGINT,
  finished_at BIGINT,
  closed_at BIGINT,
  children LONGTEXT NOT NULL,
  finalize LONGTEXT,
  step BIGINT NOT NULL,
  watched BIGINT NOT NULL,
  traceparent BLOB,
  PRIMARY KEY (id),
  UNIQUE KEY executions_sleeping_id (sleeping_id),
  UNIQUE KEY executions_idempotency_key (idempotency_key),
  KEY executions_parent (parent_id, finished_at, id),
  KEY executions_ready (status, task_id, start_at, id),
  KEY executions_leased (task_id, lease_expires_at, id),
  KEY executions_owner (owner),
  KEY executions_sleepers (kind, status, expires_at, id),
  KEY executions_created (created_at, id),
  KEY executions_status_created (status, created_at, id),
  KEY executions_task_created (task_id, created_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
;
CREATE TABLE IF NOT EXISTS leaders (
  role VARBINARY(255) NOT NULL PRIMARY KEY,
  owner VARBINARY(255) NOT NULL,
  expires_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
;
CREATE TABLE IF NOT EXISTS nodes (
  incarnation VARBINARY(255) NOT NULL PRIMARY KEY,
  name BLOB NOT NULL,
  version BLOB NOT NULL,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  running BIGINT NOT NULL,
  slots BIGINT NOT NULL,
  leader BIGINT NOT NULL,
  state BLOB NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
;
CREATE TABLE IF NOT EXISTS finished_minutes (
  minute BIGINT NOT NULL,
  incarnation VARBINARY(255) NOT NULL,
  status BIGINT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (minute, incarnation, status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
)sql"},
  // Cross-node announcements (announcements.hpp): rows written in the
  // announcing commit, read by seq, pruned by seq range.
  {2, "0002_events", R"sql(
CREATE TABLE IF NOT EXISTS events (
  seq BIGINT NOT NULL AUTO_INCREMENT,
  sender BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  kind BINARY(1) NOT NULL,
  at_time BIGINT NOT NULL,
  execution_id VARBINARY(255) NOT NULL,
  parent_id VARBINARY(255) NOT NULL,
  owner VARBINARY(255) NOT NULL,
  PRIMARY KEY (seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin
)sql"},
}};

static_assert(all_migrations.back().version == mysql_store::schema_version);

constexpr const char* lock_name = "LEFT(CONCAT('durable_migrations:', "
                                  "DATABASE()), 64)";

void run_statements(connection& db, std::string_view sql) {
  while (!sql.empty()) {
    auto end = sql.find("\n;\n");
    auto one = sql.substr(0, end);
    if (one.find_first_not_of(" \n") != std::string_view::npos)
      db.exec(std::string{one});
    if (end == std::string_view::npos)
      break;
    sql.remove_prefix(end + 3);
  }
}

} // namespace

std::span<const migration> migrations() {
  return all_migrations;
}

void migrate(connection& db) {
  auto got = db.scalar(fmt::format("SELECT GET_LOCK({}, 60)", lock_name));
  if (got != "1")
    throw durable::error("cannot take the migration lock (GET_LOCK): another "
                         "node has held it for 60 s");
  try {
    db.exec("CREATE TABLE IF NOT EXISTS durable_migrations ("
            "version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, "
            "applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) "
            "ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin");
    auto current = std::stoi(
      db.scalar("SELECT COALESCE(MAX(version), 0) FROM durable_migrations")
        .value_or("0"));
    if (current > mysql_store::schema_version)
      throw durable::error(fmt::format(
        "database schema version {} is newer than this binary supports ({})",
        current, mysql_store::schema_version));
    for (const auto& m : all_migrations) {
      if (m.version <= current)
        continue;
      try {
        run_statements(db, m.sql);
      } catch (const std::exception& e) {
        throw durable::error(
          fmt::format("migration {} failed: {}", m.name, e.what()));
      }
      db.exec(fmt::format("INSERT INTO durable_migrations (version, name) "
                          "VALUES ({}, '{}')",
                          m.version, m.name));
    }
  } catch (...) {
    try {
      db.scalar(fmt::format("SELECT RELEASE_LOCK({})", lock_name));
    } catch (...) {
    }
    throw;
  }
  db.scalar(fmt::format("SELECT RELEASE_LOCK({})", lock_name));
}

} // namespace durable::storage::mysql_detail
