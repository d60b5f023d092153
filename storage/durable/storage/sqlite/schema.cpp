#include "durable/storage/sqlite/schema.hpp"

#include <array>
#include <exception>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite_store.hpp"

namespace durable::storage::sqlite_detail {

namespace {

// Append only: a released migration never changes, a new one gets the next
// version (and sqlite_store::schema_version follows it).
constexpr std::array<migration, 6> all_migrations{{
  {1, "0001_create_executions", R"sql(
CREATE TABLE executions (
  id TEXT NOT NULL PRIMARY KEY,
  task_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  parent_id TEXT,
  parent TEXT,
  root_task_id TEXT NOT NULL,
  root_execution_id TEXT NOT NULL,
  sleeping_id TEXT,
  idempotency_key TEXT,
  retry TEXT NOT NULL,
  sleep_before_run_ms INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  input TEXT NOT NULL,
  output TEXT,
  run_output TEXT,
  error TEXT,
  status INTEGER NOT NULL,
  version INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  recoveries INTEGER NOT NULL,
  owner TEXT,
  lease_expires_at INTEGER,
  start_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  expires_at INTEGER,
  waiting_for_children_started_at INTEGER,
  waiting_for_finalize_started_at INTEGER,
  finished_at INTEGER,
  closed_at INTEGER,
  children TEXT NOT NULL,
  finalize TEXT,
  step INTEGER NOT NULL,
  watched INTEGER NOT NULL
);
CREATE UNIQUE INDEX executions_sleeping_id ON executions (sleeping_id);
CREATE UNIQUE INDEX executions_idempotency_key
  ON executions (idempotency_key);
CREATE INDEX executions_parent ON executions (parent_id)
  WHERE parent_id IS NOT NULL;
CREATE INDEX executions_ready ON executions (task_id, start_at, id)
  WHERE status = 0;
CREATE INDEX executions_leased ON executions (task_id, lease_expires_at, id)
  WHERE status IN (1, 2, 3);
CREATE INDEX executions_owner ON executions (owner)
  WHERE owner IS NOT NULL;
CREATE INDEX executions_sleepers ON executions (expires_at, id)
  WHERE kind = 4 AND status = 1;
)sql"},
  {2, "0002_create_leaders", R"sql(
CREATE TABLE leaders (
  role TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
)sql"},
  {3, "0003_listing_indexes", R"sql(
CREATE INDEX executions_created ON executions (created_at, id);
CREATE INDEX executions_status_created
  ON executions (status, created_at, id);
CREATE INDEX executions_task_created ON executions (task_id, created_at, id);
)sql"},
  {4, "0004_finished_roots", R"sql(
CREATE INDEX executions_finished_roots ON executions (finished_at, id)
  WHERE parent_id IS NULL AND status >= 4;
)sql"},
  // The W3C trace context of an execution's tree (trace_context.hpp).
  {5, "0005_traceparent", R"sql(
ALTER TABLE executions ADD COLUMN traceparent TEXT;
)sql"},
  // The node registry (node_registry.hpp): one row per node incarnation,
  // and the cluster's finished executions per minute, node and status.
  {6, "0006_node_registry", R"sql(
CREATE TABLE nodes (
  incarnation TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  running INTEGER NOT NULL,
  slots INTEGER NOT NULL,
  leader INTEGER NOT NULL,
  state TEXT NOT NULL
);
CREATE TABLE finished_minutes (
  minute INTEGER NOT NULL,
  incarnation TEXT NOT NULL,
  status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, incarnation, status)
) WITHOUT ROWID;
)sql"},
}};

static_assert(all_migrations.back().version == sqlite_store::schema_version);

} // namespace

std::span<const migration> migrations() {
  return all_migrations;
}

void migrate(connection& db) {
  db.exec("BEGIN IMMEDIATE");
  try {
    auto current = db.pragma_int("PRAGMA user_version");
    if (current > sqlite_store::schema_version)
      throw durable::error(fmt::format(
        "database schema version {} is newer than this binary supports ({})",
        current, sqlite_store::schema_version));
    for (const auto& m : all_migrations) {
      if (m.version <= current)
        continue;
      try {
        db.exec(m.sql);
      } catch (const std::exception& e) {
        throw durable::error(
          fmt::format("migration {} failed: {}", m.name, e.what()));
      }
      db.exec(fmt::format("PRAGMA user_version = {}", m.version));
    }
    db.exec("COMMIT");
  } catch (...) {
    db.rollback_quietly();
    throw;
  }
}

} // namespace durable::storage::sqlite_detail
