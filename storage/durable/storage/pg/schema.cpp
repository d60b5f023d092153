#include "durable/storage/pg/schema.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "durable/error.hpp"

namespace durable::storage::pg {

namespace {

// The advisory lock space of durable's migrations (first key); the second
// key is the hash of the schema name, so schemas migrate independently.
constexpr int migration_lock_space = 0x64757261; // "dura"

constexpr std::string_view migration_0001 = R"sql(
CREATE TABLE {schema}.executions (
  id text COLLATE "C" PRIMARY KEY,
  task_id text COLLATE "C" NOT NULL,
  kind smallint NOT NULL,
  parent_task_id text COLLATE "C",
  parent_id text COLLATE "C",
  parent_index bigint,
  parent_only boolean,
  parent_is_finalize boolean,
  root_task_id text COLLATE "C" NOT NULL,
  root_id text COLLATE "C" NOT NULL,
  sleeping_id text COLLATE "C" UNIQUE,
  idempotency_key text COLLATE "C" UNIQUE,
  retry_max_attempts integer NOT NULL,
  retry_base_delay_ms bigint NOT NULL,
  retry_multiplier double precision NOT NULL,
  retry_max_delay_ms bigint,
  retry_jitter smallint NOT NULL,
  sleep_before_run_ms bigint NOT NULL,
  timeout_ms bigint NOT NULL,
  input text NOT NULL,
  output text,
  run_output text,
  error_kind smallint,
  error_message text,
  error_retryable boolean,
  error_internal boolean,
  status text NOT NULL CHECK (status IN ('ready', 'running',
    'waiting_for_children', 'waiting_for_finalize', 'completed', 'failed',
    'timed_out', 'finalize_failed', 'cancelled')),
  version bigint NOT NULL,
  attempt integer NOT NULL,
  recoveries integer NOT NULL,
  owner text COLLATE "C",
  lease_expires_at bigint,
  start_at bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  started_at bigint,
  expires_at bigint,
  waiting_for_children_started_at bigint,
  waiting_for_finalize_started_at bigint,
  finished_at bigint,
  closed_at bigint,
  children jsonb NOT NULL,
  finalize_task_id text COLLATE "C",
  finalize_id text COLLATE "C",
  step bigint NOT NULL,
  watched boolean NOT NULL
) WITH (
  fillfactor = 80,
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_cost_delay = 0,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02
);

CREATE INDEX executions_ready ON {schema}.executions (task_id, start_at, id)
  WHERE status = 'ready';

CREATE INDEX executions_leased ON {schema}.executions
  (task_id, (coalesce(lease_expires_at, -9223372036854775808)), id)
  WHERE (status = 'running' AND kind <> 4)
     OR status IN ('waiting_for_children', 'waiting_for_finalize');

CREATE INDEX executions_owner ON {schema}.executions (owner)
  WHERE owner IS NOT NULL AND status IN ('ready', 'running',
    'waiting_for_children', 'waiting_for_finalize');

CREATE INDEX executions_parent ON {schema}.executions (parent_id)
  WHERE parent_id IS NOT NULL;

CREATE INDEX executions_sleepers ON {schema}.executions (expires_at, id)
  WHERE kind = 4 AND status = 'running' AND expires_at IS NOT NULL;
)sql";

// Leadership leases (one maintenance leader per cluster).
constexpr std::string_view migration_0002 = R"sql(
CREATE TABLE {schema}.leaders (
  role text PRIMARY KEY,
  owner text NOT NULL,
  expires_at bigint NOT NULL
);
)sql";

// Listings and counts (list(), count_by_status()): newest first by
// (created_at, id), alone or after an equality on status or task. Not
// CONCURRENTLY (migrations run in one transaction, where it is not
// allowed): it blocks writes while it builds, so on a large table an
// operator creates them CONCURRENTLY by hand first (IF NOT EXISTS).
constexpr std::string_view migration_0003 = R"sql(
CREATE INDEX IF NOT EXISTS executions_created ON {schema}.executions (created_at, id);

CREATE INDEX IF NOT EXISTS executions_status_created ON {schema}.executions
  (status, created_at, id);

CREATE INDEX IF NOT EXISTS executions_task_created ON {schema}.executions
  (task_id, created_at, id);
)sql";

// Lease renewals become HOT updates. A renewal rewrites the lease of every
// active row a node holds, every renew interval; with the lease in an index
// key each of those was a new entry in every index of the table, and the
// dead entries piled up in front of the claim's scan for expired leases
// (a 10-minute run slowed down sevenfold). Keyed by task only, no index
// holds the lease, so a renewal rewrites the row in place on its page. The
// scan for expired leases now reads the task's active rows and sorts them,
// which the engine does once per poll, not per claim (claim_request::
// take_over).
constexpr std::string_view migration_0004 = R"sql(
DROP INDEX {schema}.executions_leased;

CREATE INDEX executions_leased ON {schema}.executions (task_id, id)
  WHERE (status = 'running' AND kind <> 4)
     OR status IN ('waiting_for_children', 'waiting_for_finalize');
)sql";

// Unique sleeping ids and idempotency keys index only the rows that have
// one. A row's status is in several index keys, so every transition is a
// new tuple with an entry in every index that covers it; the two unique
// constraints indexed NULL as well, for nearly every row, and cost two of
// those entries per insert and per transition for nothing. Lookups by
// either column (get_by_sleeping_id, insert conflicts) compare with =,
// which implies NOT NULL, so they still use the partial indexes.
constexpr std::string_view migration_0005 = R"sql(
ALTER TABLE {schema}.executions
  DROP CONSTRAINT executions_sleeping_id_key,
  DROP CONSTRAINT executions_idempotency_key_key;
CREATE UNIQUE INDEX executions_sleeping_id ON {schema}.executions
  (sleeping_id) WHERE sleeping_id IS NOT NULL;
CREATE UNIQUE INDEX executions_idempotency_key ON {schema}.executions
  (idempotency_key) WHERE idempotency_key IS NOT NULL;
)sql";

// A lease per owner gates the take-over scan (pg_store.cpp, "Owner
// leases"). Finding expired leases walked the task's active rows through
// `executions_leased`, and with them the dead index entries of every row
// that ran since vacuum last passed: on a busy node each scan cost more the
// longer it ran (a 10-minute run lost a third of its rate). Now a claim
// looks only at the rows of owners whose lease in `owner_leases` ran out
// (by `executions_owner`), and at rows without an owner (released leases,
// by `executions_unowned`, which holds nothing while no node drains).
// `expires_at` is a floor: no active row of the owner has an earlier
// lease. The existing rows give the first floors.
constexpr std::string_view migration_0006 = R"sql(
CREATE TABLE {schema}.owner_leases (
  owner text COLLATE "C" PRIMARY KEY,
  expires_at bigint NOT NULL
);

INSERT INTO {schema}.owner_leases (owner, expires_at)
  SELECT owner, min(coalesce(lease_expires_at, -9223372036854775808))
  FROM {schema}.executions
  WHERE owner IS NOT NULL AND ((status = 'running' AND kind <> 4)
     OR status IN ('waiting_for_children', 'waiting_for_finalize'))
  GROUP BY owner;

CREATE INDEX executions_unowned ON {schema}.executions (task_id, id)
  WHERE owner IS NULL AND ((status = 'running' AND kind <> 4)
     OR status IN ('waiting_for_children', 'waiting_for_finalize'));

DROP INDEX {schema}.executions_leased;
)sql";

// The sleeper scan (scan_sleepers) reads only this index. With `status =
// 'running'` in its predicate, the scan's own `status = 'running'` could
// also be served by `executions_status_created`, and PostgreSQL took that
// whenever its statistics had sampled no running row (the usual state of
// a large table, where running rows are a fraction of a percent): every
// scan then read every running row of every kind, and the dead entries of
// those that finished since vacuum (15,000-20,000 entries, 30-60 ms, every
// 5 s). The comparison under COLLATE "C" (the same equality for text) can
// serve no index of the default collation, and the scan, written
// identically, still matches this predicate.
constexpr std::string_view migration_0007 = R"sql(
DROP INDEX {schema}.executions_sleepers;

CREATE INDEX executions_sleepers ON {schema}.executions (expires_at, id)
  WHERE kind = 4 AND status = 'running' COLLATE "C"
    AND expires_at IS NOT NULL;
)sql";

// Retention (prune()) finds old finished roots through this index: per
// status, oldest finish first, without reading a child or an unfinished
// row. Only roots with a finish time are in it, a small fraction of the
// rows and none that a transition moves again, so it costs the hot path one
// entry per finished root. The prune's `finished_at < $n` implies the
// predicate; the trees below are read through `executions_parent`.
constexpr std::string_view migration_0008 = R"sql(
CREATE INDEX IF NOT EXISTS executions_finished_roots ON {schema}.executions
  (status, finished_at, id)
  WHERE parent_id IS NULL AND finished_at IS NOT NULL;
)sql";

// The W3C trace context of an execution's tree (trace_context.hpp). Added
// without a default, so the ALTER rewrites nothing: existing rows read
// NULL, which is what they were (no trace context).
constexpr std::string_view migration_0009 = R"sql(
ALTER TABLE {schema}.executions ADD COLUMN IF NOT EXISTS traceparent text;
)sql";

// The node registry (node_registry.hpp): one row per node incarnation,
// rewritten by its reports every few seconds (small, HOT updates), and the
// cluster's finished executions per minute, node and status, read by
// minute range through the primary key.
constexpr std::string_view migration_0010 = R"sql(
CREATE TABLE IF NOT EXISTS {schema}.nodes (
  incarnation text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  version text NOT NULL,
  started_at bigint NOT NULL,
  heartbeat_at bigint NOT NULL,
  running integer NOT NULL,
  slots integer NOT NULL,
  leader boolean NOT NULL,
  state text NOT NULL
) WITH (fillfactor = 50);

CREATE TABLE IF NOT EXISTS {schema}.finished_minutes (
  minute bigint NOT NULL,
  incarnation text COLLATE "C" NOT NULL,
  status text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (minute, incarnation, status)
);
)sql";

} // namespace

const std::vector<migration>& migrations() {
  static const std::vector<migration> all{
    {1, "executions", migration_0001},
    {2, "leaders", migration_0002},
    {3, "listing_indexes", migration_0003},
    {4, "hot_lease_renewals", migration_0004},
    {5, "partial_unique_indexes", migration_0005},
    {6, "owner_leases", migration_0006},
    {7, "sleepers_index_only", migration_0007},
    {8, "finished_roots", migration_0008},
    {9, "traceparent", migration_0009},
    {10, "node_registry", migration_0010},
  };
  return all;
}

int latest_schema_version() {
  return migrations().back().version;
}

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string with_schema(std::string_view sql, std::string_view schema) {
  constexpr std::string_view marker = "{schema}";
  const auto quoted = quote_ident(schema);
  std::string out;
  out.reserve(sql.size() + 64);
  std::size_t pos = 0;
  for (;;) {
    auto hit = sql.find(marker, pos);
    if (hit == std::string_view::npos) {
      out.append(sql.substr(pos));
      return out;
    }
    out.append(sql.substr(pos, hit - pos));
    out += quoted;
    pos = hit + marker.size();
  }
}

int schema_version(pqxx::connection_base& c, std::string_view schema) {
  pqxx::nontransaction tx{c};
  auto exists = tx.exec_params1("SELECT to_regclass($1) IS NOT NULL",
                                quote_ident(schema) + ".schema_migrations");
  if (!exists[0].as<bool>())
    return 0;
  auto r = tx.exec1(with_schema(
    "SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations",
    schema));
  return r[0].as<int>();
}

int migrate(pqxx::connection_base& c, std::string_view schema, int up_to) {
  pqxx::work tx{c};
  tx.exec_params("SELECT pg_advisory_xact_lock($1, hashtext($2))",
                 migration_lock_space, std::string{schema});
  tx.exec(with_schema("CREATE SCHEMA IF NOT EXISTS {schema}", schema));
  tx.exec(with_schema(R"sql(
    CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    ))sql",
                      schema));
  auto current = tx.exec1(with_schema(
    "SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations",
    schema))[0]
                   .as<int>();
  if (current > latest_schema_version())
    throw durable::error(fmt::format(
      "PostgreSQL schema {} is at version {}, newer than this binary knows "
      "(version {}): upgrade durable before starting this node",
      schema, current, latest_schema_version()));
  int applied = 0;
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to)
      continue;
    tx.exec(with_schema(m.sql, schema));
    tx.exec_params(with_schema("INSERT INTO {schema}.schema_migrations "
                               "(version, name) VALUES ($1, $2)",
                               schema),
                   m.version, std::string{m.name});
    ++applied;
  }
  tx.commit();
  return applied;
}

} // namespace durable::storage::pg
