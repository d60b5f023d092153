#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "durable/storage/pg/json_rows.hpp"
#include "durable/storage/pg/row_codec.hpp"

/// The SQL of the PostgreSQL store: every prepared statement by name, as
/// text built once per store from its schema, apart from the code that
/// runs it. Internal to storage/pg.
///
/// **Threading.** The builders are pure functions of their arguments; the
/// statement names are constants. Call them from any thread.
///
/// **Durability.** None here: a statement commits with the transaction it
/// runs in (pg_store_impl.hpp's run()), or alone outside a transaction
/// block (st_apply_announce, the reads).
///
/// **Errors.** Building a statement does not throw, except for
/// std::bad_alloc. exec() throws what libpqxx throws; run() maps that
/// (error_mapping.hpp).
///
/// **Parameters.** Every value is a bound parameter (`$n`): only the schema,
/// which quote_ident() quoted, and constants are part of the text. The
/// clock is `$k` as now_expr()/clock_expr() reads it: NULL is the server's.
/// Each statement's comment in statements.cpp lists what its `$n` hold.
namespace durable::storage::pg {

// -- names --------------------------------------------------------------------

inline constexpr const char* st_get = "durable_get";
inline constexpr const char* st_get_many = "durable_get_many";
inline constexpr const char* st_get_sleeping = "durable_get_sleeping";
inline constexpr const char* st_children = "durable_children";
inline constexpr const char* st_claim = "durable_claim";
inline constexpr const char* st_claim_ready = "durable_claim_ready";
inline constexpr const char* st_apply = "durable_apply";
inline constexpr const char* st_apply_owner = "durable_apply_owner";
inline constexpr const char* st_apply_announce = "durable_apply_announce";
inline constexpr const char* st_cascade = "durable_cascade";
inline constexpr const char* st_lock = "durable_lock";
inline constexpr const char* st_renew = "durable_renew";
inline constexpr const char* st_renew_held = "durable_renew_held";
inline constexpr const char* st_release = "durable_release";
inline constexpr const char* st_scan = "durable_scan";
inline constexpr const char* st_watch = "durable_watch";
inline constexpr const char* st_erase = "durable_erase";
inline constexpr const char* st_corrupt = "durable_corrupt";
inline constexpr const char* st_insert = "durable_insert";
inline constexpr const char* st_conflicts = "durable_conflicts";
inline constexpr const char* st_clock = "durable_clock";
inline constexpr const char* st_notify = "durable_notify";
inline constexpr const char* st_lead = "durable_lead";
inline constexpr const char* st_floors = "durable_floors";

// -- SQL ----------------------------------------------------------------------

/// How long an owner's lease must have been expired, with no active row
/// left, before a claim deletes it from owner_leases: far longer than a
/// live node goes without renewing, so that no node still storing rows
/// under that owner loses its floor (and owner_floors trusts what it
/// learned of a floor for half of it).
inline constexpr std::int64_t owner_lease_grace_us = 3'600'000'000;

/// The tables of one schema as the statements name them, each quoted with
/// quote_ident(), e.g. `"durable".executions`.
struct schema_tables {
  explicit schema_tables(const std::string& schema);

  std::string executions;
  std::string owner_leases;
  std::string leaders;
};

/// A prepared statement: its name and its SQL.
using named_statement = std::pair<std::string, std::string>;

/// Every statement the store prepares, in the order it prepares them.
std::vector<named_statement> store_statements(const schema_tables& t);

/// The INSERT of a batch of rows given as JSON ($1, all_columns(); $2 the
/// clock) with ON CONFLICT DO NOTHING RETURNING their identity (id,
/// sleeping_id, idempotency_key). st_insert, and run as plain SQL in a
/// caller's transaction (outbox.hpp).
std::string insert_statement(const schema_tables& t);

/// Which stored rows hold one of the ids ($1), sleeping ids ($2) or keys
/// ($3) given as text[]: why an insert stored no row. st_conflicts, and
/// plain SQL like insert_statement().
std::string conflicts_statement(const schema_tables& t);

/// The claim: $1 task ids (text[]), $2 limit, $3 owner, $4 lease in
/// microseconds, $5 now (NULL: the server's). `take_over`: it also takes
/// over expired leases (st_claim; st_claim_ready without).
std::string claim_statement(const schema_tables& t, bool take_over);

/// One status's part of prune() on `table` (schema-qualified): $1 status,
/// $2 cutoff in microseconds, then $3 the limit (not for a dry run), the
/// task id (only if `by_task`) and the excluded task ids as a text[] (only
/// if `except_tasks`). Deletes and returns the root of each row deleted; a
/// dry run returns (roots, rows) instead. Defined in prune.cpp.
std::string prune_statement(const std::string& table, bool by_task,
                            bool dry_run, bool except_tasks = false);

/// Run in prune()'s transaction before prune_statement(). The recursive
/// walk of a tree has no row estimate PostgreSQL can trust (it assumes ten
/// times the roots per level), so it chose to hash the whole table, a
/// sequential scan per batch; without hash and merge joins it follows
/// `executions_parent` and the primary key, reading only the trees.
inline constexpr const char* prune_settings
  = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
    "SET LOCAL enable_seqscan = off";

/// Run in watch()'s transaction before st_watch: its commit does not wait
/// for the WAL to reach the disk. The mark only decides whether a row's end
/// is announced; a waiter whose mark a crash of the server lost is answered
/// by its re-check of watched rows instead (dispatcher_waiters.hpp). A
/// durable commit here cost a waiter one more disk flush, and held the
/// row's lock through it, so that a claim of the new row skipped it.
inline constexpr const char* watch_settings = "SET LOCAL synchronous_commit = "
                                              "off";

// -- parameters ---------------------------------------------------------------

/// The JSON rows of an insert: every column of the table.
json_rows all_columns();

/// The JSON rows of a batch of transitions (st_apply and its variants):
/// `id`, `version` (the expected one) and every column a transition may
/// change; not `watched`, which the store manages, nor the columns fixed at
/// insert (store.hpp), so that a large input is never sent twice.
json_rows transition_columns();

/// Runs the prepared statement `name` with `ps` (NULL for nullopt).
pqxx::result exec(pqxx::transaction_base& tx, const char* name,
                  const std::vector<param>& ps);

} // namespace durable::storage::pg
