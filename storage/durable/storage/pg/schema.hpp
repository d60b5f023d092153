#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pqxx {
class connection_base;
} // namespace pqxx

/// The versioned schema of the PostgreSQL backend.
///
/// Migrations are numbered from 1 and never edited once released: a change
/// is a new migration. Each one runs in the start-up transaction that holds
/// `pg_advisory_xact_lock` on the schema, so several nodes starting at once
/// apply it exactly once; each applied version is a row of
/// `<schema>.schema_migrations`. A store refuses to start on a schema whose
/// newest version it does not know (written by a newer binary).
///
/// **The hot table** `<schema>.executions` keeps one row per execution; every
/// field of execution_record has its column, times as bigint microseconds
/// since the epoch (exact round trips; the server's clock in SQL is
/// `(extract(epoch from now()) * 1000000)::bigint`). Ids compare bytewise
/// (`COLLATE "C"`), as the other backends do. It has fillfactor 80 and
/// aggressive per-table autovacuum, since every transition rewrites a row.
///
/// Indexes, one per query: the primary key (get, apply); ready rows by
/// `(task_id, start_at, id)` (claim, next_ready_at); active rows by owner
/// (renew_leases, release_leases, and since version 6 the take-over of an
/// owner whose lease in `<schema>.owner_leases` ran out); active rows
/// without an owner by `(task_id, id)` (the take-over of released leases);
/// children by parent id
/// (children_of, cascade); live sleepers by deadline (scan_sleepers);
/// unique sleeping id and unique idempotency key; since version 3 every
/// row by `(created_at, id)`, `(status, created_at, id)` and `(task_id,
/// created_at, id)` (list, count_by_status); since version 8 finished
/// roots by `(status, finished_at, id)` (prune).
namespace durable::storage::pg {

/// One migration: its version and the SQL (with `{schema}` standing for the
/// quoted schema name).
struct migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

/// Every migration this binary knows, in order.
const std::vector<migration>& migrations();

/// The newest version this binary knows.
int latest_schema_version();

/// `name` as a quoted SQL identifier.
std::string quote_ident(std::string_view name);

/// `sql` with every `{schema}` replaced by the quoted schema name.
std::string with_schema(std::string_view sql, std::string_view schema);

/// Creates the schema if needed and applies the missing migrations up to
/// version `up_to` (all of them by default) in one transaction under an
/// advisory lock. Returns the number applied.
/// @throws durable::error if the schema is newer than this binary;
///         libpqxx exceptions on connection or SQL failures.
int migrate(pqxx::connection_base& c, std::string_view schema,
            int up_to = latest_schema_version());

/// The schema's version (0 if it has no migrations table).
int schema_version(pqxx::connection_base& c, std::string_view schema);

} // namespace durable::storage::pg
