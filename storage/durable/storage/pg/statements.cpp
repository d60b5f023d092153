#include "durable/storage/pg/statements.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string_view>

#include <fmt/format.h>

#include "durable/storage/pg/schema.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::storage::pg {

namespace {

constexpr std::string_view min_bigint = "-9223372036854775808";
constexpr std::string_view active_statuses
  = "('ready', 'running', 'waiting_for_children', 'waiting_for_finalize')";

/// `column` bounded to `r` (stored_ranges.hpp) for a computation: a
/// stored value out of range must not make the statement fail ("bigint out
/// of range") for every row it touches. The row itself is checked once
/// read, and failed (see claim()).
std::string bounded(std::string_view column, stored_ranges::range r) {
  return fmt::format("least(greatest({}, {}), {})", column, r.min, r.max);
}

/// `column + 1` where the result still fits the column (`column <=
/// r.max`), `column` otherwise. One more than `r.max` is out of range too,
/// so a row pushed past its range, or found beyond it, is failed once read.
std::string bounded_increment(std::string_view column, stored_ranges::range r) {
  return fmt::format("{0} + CASE WHEN {0} <= {1} THEN 1 ELSE 0 END", column,
                     r.max);
}

/// What a batch of transitions passes (see st_apply): `id`, `version` (the
/// expected one) and every column a transition may change: not `watched`,
/// which the store manages, nor the columns fixed at insert (store.hpp),
/// which st_apply neither sends nor writes (fields::role).
const std::vector<std::size_t>& transition_column_indexes() {
  static const auto indexes = [] {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < column_count; ++i) {
      const auto writer = columns()[i].writer;
      if (writer == fields::role::key || writer == fields::role::transition)
        out.push_back(i);
    }
    return out;
  }();
  return indexes;
}

// -- reads --------------------------------------------------------------------

std::string clock_sql(const schema_tables&) {
  return "SELECT (extract(epoch from clock_timestamp()) * 1000000)::bigint";
}

std::string get_sql(const schema_tables& t) {
  return fmt::format("SELECT {} FROM {} e WHERE e.id = $1", column_list("e"),
                     t.executions);
}

std::string get_many_sql(const schema_tables& t) {
  return fmt::format("SELECT {} FROM {} e WHERE e.id = ANY($1::text[])",
                     column_list("e"), t.executions);
}

std::string get_sleeping_sql(const schema_tables& t) {
  return fmt::format("SELECT {} FROM {} e WHERE e.sleeping_id = $1",
                     column_list("e"), t.executions);
}

std::string children_sql(const schema_tables& t) {
  return fmt::format("SELECT {} FROM {} e WHERE e.parent_id = $1 ORDER BY "
                     "e.parent_is_finalize, e.parent_index, e.id",
                     column_list("e"), t.executions);
}

std::string watch_sql(const schema_tables& t) {
  return fmt::format("UPDATE {} e SET watched = true WHERE e.id = $1 "
                     "RETURNING {}",
                     t.executions, column_list("e"));
}

std::string erase_sql(const schema_tables& t) {
  return fmt::format("DELETE FROM {} WHERE id = $1", t.executions);
}

// A claimed row that cannot be decoded, or holds a number out of range
// (stored_ranges.hpp), ends failed instead of blocking every later claim
// (see claim()). $1 its id, $2 the error message, $3 now, $4: its children
// cannot be read either. The version moves only where one more still fits:
// a row's version may be what is out of range.
std::string corrupt_sql(const schema_tables& t) {
  return fmt::format(
    "UPDATE {} SET status = 'failed', error_kind = 0, "
    "error_message = $2, error_retryable = false, "
    "error_internal = true, owner = NULL, "
    "lease_expires_at = NULL, children = CASE WHEN "
    "$4::boolean THEN '[]'::jsonb ELSE children END, "
    "finished_at = {now}, "
    "closed_at = {now}, updated_at = {now}, "
    "version = {version} WHERE id = $1",
    t.executions, fmt::arg("now", now_expr(3)),
    fmt::arg("version", bounded_increment("version", stored_ranges::version)));
}

// Locks the rows $1 (text[]) in id order: a batch with a cascade, a cancel
// or a repeated id locks every row it touches first (apply_batch()).
std::string lock_sql(const schema_tables& t) {
  return fmt::format("SELECT id FROM {} WHERE id = ANY($1::text[]) "
                     "ORDER BY id FOR UPDATE",
                     t.executions);
}

// -- leases -------------------------------------------------------------------

// Renewal, in two steps (see renew_leases()). First, without waiting:
// every row of the owner that no one holds is renewed, and the others
// (a transition or a claim in flight) come back marked false. SKIP
// LOCKED never waits, so this step cannot be part of a deadlock, in
// whatever order it locks. ($1 owner, $2 lease in microseconds, $3 now.)
// Only rows whose lease is due move (store_rules::renewal_due: it ends
// before `due`, three quarters of a lease from now); the others are
// returned as renewed, since their lease is good.
// The owner's floor (owner_floors.hpp) moves to `due`, the earliest
// lease of its rows after the renewal, in the same statement; it comes
// back on every row, and on one row of NULLs if the owner holds none.
std::string renew_sql(const schema_tables& t) {
  return fmt::format("WITH n0 AS (SELECT {now} AS now), "
                     "n AS (SELECT now, now + $2::bigint * 3 / 4 AS due FROM "
                     "n0), "
                     "fl AS (INSERT INTO {ol} (owner, expires_at) SELECT $1, "
                     "n.due FROM n ON CONFLICT (owner) DO UPDATE "
                     "SET expires_at = excluded.expires_at RETURNING "
                     "expires_at), "
                     "held AS (SELECT id, coalesce(lease_expires_at, {min}) >= "
                     "(SELECT due FROM n) AS good FROM {t} WHERE owner = $1 "
                     "AND status IN {act}), "
                     "free AS (SELECT id FROM {t} WHERE owner = $1 AND status "
                     "IN {act} AND coalesce(lease_expires_at, {min}) < (SELECT "
                     "due FROM n) FOR UPDATE SKIP LOCKED), "
                     "u AS (UPDATE {t} e SET lease_expires_at = n.now + "
                     "$2::bigint FROM n WHERE e.id = ANY(ARRAY(SELECT id FROM "
                     "free)) RETURNING e.id) "
                     "SELECT held.id, u.id IS NOT NULL OR held.good, "
                     "fl.expires_at FROM fl "
                     "LEFT JOIN (held LEFT JOIN u ON u.id = held.id) ON true",
                     fmt::arg("t", t.executions), fmt::arg("now", now_expr(3)),
                     fmt::arg("act", active_statuses),
                     fmt::arg("ol", t.owner_leases),
                     fmt::arg("min", min_bigint));
}

// Then the rows that were held ($4), waiting for their holders: locked
// in id order, as apply() and the cascade lock theirs (an UPDATE that
// locks in plan order deadlocks with a batch transition), and renewed
// only if still the owner's and active once the holder committed.
std::string renew_held_sql(const schema_tables& t) {
  return fmt::format("WITH n AS (SELECT {now} AS now), "
                     "mine AS (SELECT id FROM {t} WHERE id = ANY($4::text[]) "
                     "AND owner = $1 AND status IN {act} ORDER BY id FOR "
                     "UPDATE) "
                     "UPDATE {t} e SET lease_expires_at = n.now + $2::bigint "
                     "FROM n WHERE e.id = ANY(ARRAY(SELECT id FROM mine)) "
                     "RETURNING e.id",
                     fmt::arg("t", t.executions), fmt::arg("now", now_expr(3)),
                     fmt::arg("act", active_statuses));
}

// Handed-back rows have no owner: the take-over finds them by
// `executions_unowned`. The owner's floor goes down to now, so that any
// row it still stores under its name is taken over once its lease ran out.
// ($1 owner, $2 now.)
std::string release_sql(const schema_tables& t) {
  return fmt::format(
    "WITH n AS (SELECT {now} AS now), "
    "fl AS (UPDATE {ol} o SET expires_at = least(o.expires_at, "
    "n.now) FROM n WHERE o.owner = $1) "
    "UPDATE {t} SET owner = NULL, lease_expires_at = "
    "(SELECT now FROM n) WHERE owner = $1 AND status IN {act}",
    fmt::arg("t", t.executions), fmt::arg("now", now_expr(2)),
    fmt::arg("act", active_statuses), fmt::arg("ol", t.owner_leases));
}

// Lowers owners' floors ($1 owners, $2 floors, sorted by owner) before
// rows already claimed by them are stored; returns the stored floors.
std::string floors_sql(const schema_tables& t) {
  return fmt::format("INSERT INTO {ol} AS l (owner, expires_at) SELECT * FROM "
                     "unnest($1::text[], $2::bigint[]) ON CONFLICT (owner) DO "
                     "UPDATE SET expires_at = least(l.expires_at, "
                     "excluded.expires_at) RETURNING owner, expires_at",
                     fmt::arg("ol", t.owner_leases));
}

// Takes the role $1 for the owner $2 for $3 microseconds ($4 now) if it is
// free, ours, or expired by the server's clock; returns a row if it did.
std::string lead_sql(const schema_tables& t) {
  return fmt::format("WITH n AS (SELECT {now} AS now) "
                     "INSERT INTO {leaders} AS l (role, owner, expires_at) "
                     "SELECT $1, $2, n.now + $3::bigint FROM n "
                     "ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, "
                     "expires_at = excluded.expires_at "
                     "WHERE l.owner = excluded.owner "
                     "OR l.expires_at <= (SELECT now FROM n) RETURNING owner",
                     fmt::arg("now", now_expr(4)),
                     fmt::arg("leaders", t.leaders));
}

// -- sleepers and claims ------------------------------------------------------

// Sleepers due now (oldest deadline first; $1 limit, $2 now) and the next
// later deadline, in one round trip: one row with only `next` when none is
// due. The status test is written as `executions_sleepers`' predicate is
// (COLLATE "C", schema.cpp migration 7), so that it can use no other index.
std::string scan_sql(const schema_tables& t) {
  return fmt::format(
    "WITH n AS (SELECT {0} AS now), "
    "due AS (SELECT {1} FROM {2} e WHERE {3} AND e.expires_at <= "
    "(SELECT now FROM n) ORDER BY e.expires_at, e.id LIMIT $1), "
    "nx AS (SELECT min(e.expires_at) AS next FROM {2} e WHERE "
    "{3} AND e.expires_at > (SELECT now FROM n)) "
    "SELECT nx.next, due.* FROM nx LEFT JOIN due ON true "
    "ORDER BY due.expires_at, due.id",
    now_expr(2), column_list("e"), t.executions,
    "e.kind = 4 AND e.status = 'running' COLLATE \"C\" AND "
    "e.expires_at IS NOT NULL");
}

std::string claim_ready_sql(const schema_tables& t) {
  return claim_statement(t, false);
}

std::string claim_take_over_sql(const schema_tables& t) {
  return claim_statement(t, true);
}

// -- transitions --------------------------------------------------------------

// Transitions: $1 now, $2 the rows as JSON (json_rows.hpp) with the
// columns of transition_columns(), `version` holding each transition's
// expected version, and (st_apply, st_apply_owner: $3) their ids. A
// transition that keeps the owner never moves the lease back (a renewal
// may have moved it after the writer read). Both return, per applied
// row, what the writer does not know already: the time and the
// store-managed lease and `watched`.

/// The SET list of a transition: every column it may change from `v`.
std::string transition_set() {
  std::string set;
  for (auto i : transition_column_indexes()) {
    const auto name = columns()[i].name;
    if (name == "id" || name == "version")
      continue;
    if (!set.empty())
      set += ", ";
    if (name == "lease_expires_at")
      set += "lease_expires_at = CASE WHEN v.owner IS NOT NULL AND "
             "e.owner = v.owner AND e.lease_expires_at IS NOT NULL AND "
             "(v.lease_expires_at IS NULL OR v.lease_expires_at < "
             "e.lease_expires_at) THEN e.lease_expires_at ELSE "
             "v.lease_expires_at END";
    else
      set += fmt::format("{0} = v.{0}", name);
  }
  return set;
}

/// The batch's rows ($2) as `v`.
std::string transition_rows(const schema_tables& t) {
  return fmt::format("json_populate_recordset(NULL::{}, $2::json) AS v",
                     t.executions);
}

// `e.id = ANY(ids)` repeats the batch's ids as an array parameter
// ($ids: the same ids, in the same order) only for the planner. It
// guesses 100 rows for the JSON function, and a prepared statement's
// generic plan, made once while the table is small, then scans the
// whole table for a hash join and keeps doing so as the table grows:
// 2.5 ms instead of 0.4 for five rows among 2,800. With the array the
// planner prefers the index from about 250 rows instead of about
// 5,000; a plan made on a table smaller still scans it until the next
// ANALYZE replans (storage/pg/README.md, "Statement costs").
//
// A batch: rows are updated (so locked) in the order of the JSON
// array, which the caller sorts by id as every multi-row lock that
// waits in this store is ordered (see st_renew_held): probing the
// batch against the rows looked up by id does that, and a rare other
// plan only risks a deadlock that run() retries.
std::string transition_update(const schema_tables& t, int ids) {
  return fmt::format("UPDATE {t} e SET {set}, version = v.version + 1 "
                     "FROM {rows} WHERE e.id = v.id AND e.version = "
                     "v.version AND e.id = ANY(${ids}::text[])",
                     fmt::arg("t", t.executions),
                     fmt::arg("set", transition_set()),
                     fmt::arg("rows", transition_rows(t)),
                     fmt::arg("ids", ids));
}

std::string apply_sql(const schema_tables& t) {
  return fmt::format("{update} RETURNING e.id, NULL::text, {now}, "
                     "e.lease_expires_at, e.watched",
                     fmt::arg("update", transition_update(t, 3)),
                     fmt::arg("now", now_expr(1)));
}

// The same UPDATE with the batch's NOTIFY in it, for a batch that is
// this one statement outside a transaction block (pg_store::apply):
// $3 the channel, $4 the payload the writer expects (NULL: nothing to
// announce), $5 the number of transitions, $6 a resync payload, $7
// the ids. The writer assumes that every transition applies and that
// no row is watched; when the rows say otherwise in a way that changes
// what is announced (fewer applied, or a watched top-level row
// finished), the statement sends the resync instead, so no other node
// misses what the commit did. A last row with a NULL id stands for the
// notification (scanning it is what sends it).
std::string apply_announce_sql(const schema_tables& t) {
  return fmt::format("WITH u AS ({update} RETURNING e.id, e.lease_expires_at, "
                     "e.watched, e.parent_id, e.status), "
                     "c AS (SELECT (count(*) = $5::bigint OR $4::text IS NULL) "
                     "AND NOT coalesce(bool_or(watched AND parent_id IS NULL "
                     "AND status NOT IN {act}), false) AS exact FROM u), "
                     "n AS (SELECT pg_notify($3::text, CASE WHEN c.exact THEN "
                     "$4::text ELSE $6::text END) FROM c WHERE $4::text IS NOT "
                     "NULL OR NOT c.exact) "
                     "SELECT u.id, NULL::text, {now}, u.lease_expires_at, "
                     "u.watched FROM u UNION ALL "
                     "SELECT NULL, NULL, NULL, NULL, NULL FROM n",
                     fmt::arg("update", transition_update(t, 7)),
                     fmt::arg("now", now_expr(1)),
                     fmt::arg("act", active_statuses));
}

// One transition that also needs the owner it replaces (a cancel
// announces it): the row is locked first to read it.
std::string apply_owner_sql(const schema_tables& t) {
  return fmt::format("WITH n AS (SELECT {now} AS now), "
                     "v AS (SELECT * FROM {rows}), "
                     "old AS (SELECT e.id, e.owner FROM {t} e JOIN v ON "
                     "e.id = v.id AND e.version = v.version "
                     "WHERE e.id = ANY($3::text[]) FOR UPDATE OF e) "
                     "UPDATE {t} e SET {set}, version = v.version + 1 "
                     "FROM v, old WHERE e.id = v.id AND old.id = v.id "
                     "RETURNING e.id, old.owner, (SELECT now FROM n), "
                     "e.lease_expires_at, e.watched",
                     fmt::arg("t", t.executions),
                     fmt::arg("set", transition_set()),
                     fmt::arg("rows", transition_rows(t)),
                     fmt::arg("now", now_expr(1)));
}

// Cancels every unfinished descendant of $1 (task $2, error message $3;
// $4 now): each gets "Parent task failed [...]" naming its immediate
// parent, with that parent's message after the cascade. Rows are locked in
// id order.
std::string cascade_sql(const schema_tables& t) {
  return fmt::format(
    "WITH RECURSIVE n AS (SELECT {now} AS now), "
    "tree (id, task_id, open, msg) AS ("
    "  SELECT e.id, e.task_id, e.status IN {act},"
    "    (CASE WHEN e.status IN {act} THEN 'Parent task failed "
    "[parentTaskId=' || $2::text || '] [parentExecutionId=' || $1::text || "
    "']: ' || $3::text ELSE coalesce(e.error_message, '') END) "
    "COLLATE \"C\""
    "  FROM {t} e WHERE e.parent_id = $1"
    "  UNION ALL"
    "  SELECT e.id, e.task_id, e.status IN {act},"
    "    (CASE WHEN e.status IN {act} THEN 'Parent task failed "
    "[parentTaskId=' || tree.task_id || '] [parentExecutionId=' || tree.id "
    "|| ']: ' || tree.msg ELSE coalesce(e.error_message, '') END) "
    "COLLATE \"C\""
    "  FROM {t} e JOIN tree ON e.parent_id = tree.id"
    ") CYCLE id SET is_cycle USING path, "
    "locked AS (SELECT e.id, e.owner, tree.msg FROM {t} e JOIN tree ON "
    "  tree.id = e.id WHERE tree.open AND NOT tree.is_cycle AND e.status IN "
    "  {act} ORDER BY e.id FOR UPDATE OF e) "
    "UPDATE {t} e SET status = 'cancelled', error_kind = 3, error_message = "
    "  locked.msg, error_retryable = false, error_internal = false,"
    "  finished_at = n.now, closed_at = n.now, updated_at = n.now,"
    "  run_output = NULL, lease_expires_at = NULL, version = {version}"
    "  FROM locked, n WHERE e.id = locked.id "
    "RETURNING e.id, e.parent_id, locked.owner, n.now",
    fmt::arg("now", now_expr(4)), fmt::arg("t", t.executions),
    fmt::arg("act", active_statuses),
    fmt::arg("version",
             bounded_increment("e.version", stored_ranges::version)));
}

// -- inserts and announcements ------------------------------------------------

// $1 the channel, $2 the payload (notification.hpp).
std::string notify_sql(const schema_tables&) {
  return "SELECT pg_notify($1, $2)";
}

using sql_builder = std::string (*)(const schema_tables&);

/// Every prepared statement and how to build its SQL, in the order the
/// store prepares them.
constexpr std::pair<const char*, sql_builder> statement_table[] = {
  {st_clock, clock_sql},
  {st_get, get_sql},
  {st_get_many, get_many_sql},
  {st_get_sleeping, get_sleeping_sql},
  {st_children, children_sql},
  {st_watch, watch_sql},
  {st_erase, erase_sql},
  {st_corrupt, corrupt_sql},
  {st_lock, lock_sql},
  {st_conflicts, conflicts_statement},
  {st_renew, renew_sql},
  {st_renew_held, renew_held_sql},
  {st_release, release_sql},
  {st_floors, floors_sql},
  {st_scan, scan_sql},
  {st_claim_ready, claim_ready_sql},
  {st_claim, claim_take_over_sql},
  {st_apply, apply_sql},
  {st_apply_announce, apply_announce_sql},
  {st_apply_owner, apply_owner_sql},
  {st_cascade, cascade_sql},
  {st_insert, insert_statement},
  {st_notify, notify_sql},
  {st_lead, lead_sql},
};

} // namespace

schema_tables::schema_tables(const std::string& schema)
  : executions(quote_ident(schema) + ".executions"),
    owner_leases(quote_ident(schema) + ".owner_leases"),
    leaders(quote_ident(schema) + ".leaders") {}

std::vector<named_statement> store_statements(const schema_tables& t) {
  std::vector<named_statement> out;
  out.reserve(std::size(statement_table));
  for (const auto& [name, build] : statement_table)
    out.emplace_back(name, build(t));
  return out;
}

std::string insert_statement(const schema_tables& t) {
  // A row stored already claimed keeps its lease counted from this
  // statement, not from the claim (store_rules::lease_from_write): the
  // clock of the statement ($2 under a test clock), the claim's length.
  auto vcols = column_list("v");
  const std::string lease_col = "v.lease_expires_at";
  vcols.replace(vcols.find(lease_col), lease_col.size(),
                fmt::format("CASE WHEN v.owner IS NULL OR v.lease_expires_at "
                            "IS NULL OR v.lease_expires_at <= v.updated_at "
                            "THEN v.lease_expires_at ELSE greatest("
                            "v.lease_expires_at, {} + (v.lease_expires_at - "
                            "v.updated_at)) END",
                            clock_expr(2)));
  return fmt::format(
    "INSERT INTO {t} ({cols}) SELECT {vcols} FROM "
    "json_populate_recordset(NULL::{t}, $1::json) AS v ON CONFLICT DO "
    "NOTHING RETURNING id, sleeping_id, idempotency_key",
    fmt::arg("t", t.executions), fmt::arg("cols", column_list()),
    fmt::arg("vcols", vcols));
}

std::string conflicts_statement(const schema_tables& t) {
  return fmt::format(
    "SELECT id, sleeping_id, idempotency_key, task_id FROM {} WHERE id = "
    "ANY($1::text[]) OR sleeping_id = ANY($2::text[]) OR idempotency_key = "
    "ANY($3::text[])",
    t.executions);
}

// The claim: one statement. Per requested task, the oldest due ready rows
// (an index range scan that skips rows other claimers hold), and the
// oldest expired leases; then the oldest `limit` of those, updated with
// store_rules::claim's semantics; plus the next ready time.
//
// Owner leases. Expired leases are looked for only among the rows of
// owners whose floor in owner_leases passed (by `executions_owner`; none
// while every node renews) and among rows without an owner (released
// ones, by `executions_unowned`; none while no node drains). Scanning
// the task's active rows instead met the dead index entries of every row
// finished since vacuum last ran, and cost more the longer a node ran.
// The claimer's own floor goes down to its new leases if it was higher
// (or did not exist); it is not written while it is low enough, which is
// always after the owner's first renewal. The take-over also deletes the
// floors of owners gone for longer than owner_lease_grace_us (the probe
// for their rows is a scalar subquery, run only for those: as NOT EXISTS
// it became an anti join with every row of executions_owner).
// Without take-over the expired leases are not looked for at all.
// A generic plan (PostgreSQL's choice after five executions of a
// prepared statement) cannot know that `c` holds at most `limit` rows:
// joined to the table, it estimated 10% of it and hashed a sequential
// scan of the whole table (7x the time per row on 30,000 rows). An
// `id = ANY(ARRAY(...))` is an index lookup for any estimate of `c`
// (once the table is not tiny); `c` gives each row's `due` back at the
// end.
// `nr`, the next ready row the claim did not take, may be due already: one
// that another transaction held locked, which SKIP LOCKED passed over (a
// waiter marking a new row `watched`, another node's claim). Without it, a
// row enqueued and waited for at once was skipped by the claim its own
// announcement started, and waited for the poll (about 1% of executions
// in a sequential enqueue-and-wait loop). The claim loop claims again
// shortly after such an answer (claim_loop::retry_skipped).
// `took` tells the rows taken over from an owner whose lease ran out
// (claim_result::taken_over): read from the row as `lost` and `freed`
// locked it, before the update, so it is exactly the rows whose
// `recoveries` the update counts (not ready, an owner); ready rows never
// are, nor released ones (`freed`: no owner).
std::string claim_statement(const schema_tables& t, bool take_over) {
  const auto leased_pred = std::string{
    "((e.status = 'running' AND e.kind <> 4) OR e.status IN "
    "('waiting_for_children', 'waiting_for_finalize'))"};
  // The same rows without an OR at the top: with one, the planner splits
  // the scan of an owner's rows into a BitmapOr over every running row.
  const auto leased_pred_owned = std::string{
    "e.status IN ('running', 'waiting_for_children', "
    "'waiting_for_finalize') AND (e.kind <> 4 OR e.status <> 'running')"};
  const auto lease_key = fmt::format("coalesce(e.lease_expires_at, {})",
                                     min_bigint);
  return fmt::format(
    "WITH n AS (SELECT {now} AS now), "
    "tk AS (SELECT DISTINCT unnest($1::text[]) AS task_id), "
    "ready AS (SELECT x.id, x.due, false AS took FROM tk CROSS JOIN "
    "  LATERAL ("
    "  SELECT e.id, e.start_at AS due FROM {t} e"
    "  WHERE e.task_id = tk.task_id AND e.status = 'ready'"
    "    AND e.start_at <= (SELECT now FROM n)"
    "  ORDER BY e.start_at, e.id LIMIT $2::bigint"
    "  FOR UPDATE OF e SKIP LOCKED) x), "
    "fl AS (INSERT INTO {ol} AS l (owner, expires_at)"
    "  SELECT $3, n.now + $4::bigint FROM n WHERE NOT EXISTS ("
    "    SELECT 1 FROM {ol} o WHERE o.owner = $3"
    "      AND o.expires_at <= n.now + $4::bigint)"
    "  ON CONFLICT (owner) DO UPDATE SET expires_at = "
    "    least(l.expires_at, excluded.expires_at)), "
    "{leased}"
    "c AS (SELECT id, due, took FROM (SELECT * FROM ready UNION ALL "
    "  SELECT * FROM leased) a ORDER BY due, id LIMIT $2::bigint), "
    "u AS (UPDATE {t} e SET"
    "  status = CASE WHEN e.status = 'ready' THEN 'running' ELSE e.status "
    "    END,"
    "  started_at = CASE WHEN e.status IN ('ready', 'running') THEN n.now "
    "    ELSE e.started_at END,"
    "  expires_at = CASE WHEN e.status IN ('ready', 'running') "
    "    THEN n.now + {timeout} * 1000 ELSE e.expires_at END,"
    "  recoveries = CASE WHEN e.status <> 'ready' AND "
    "    e.owner IS NOT NULL THEN {recovery} ELSE e.recoveries END,"
    "  owner = $3, lease_expires_at = n.now + $4::bigint,"
    "  version = {version}, updated_at = n.now"
    "  FROM n WHERE e.id = ANY(ARRAY(SELECT id FROM c)) RETURNING {ecols}), "
    "nr AS (SELECT min(f.start_at) AS next FROM tk CROSS JOIN LATERAL ("
    "  SELECT e.start_at FROM {t} e WHERE e.task_id = tk.task_id"
    "  AND e.status = 'ready' AND e.id <> ALL(ARRAY(SELECT id FROM c))"
    "  ORDER BY e.start_at LIMIT 1) f) "
    "SELECT nr.next, c.due, c.took, u.* FROM nr LEFT JOIN (u JOIN c ON "
    "c.id = u.id) "
    "ON true",
    fmt::arg("now", now_expr(5)), fmt::arg("t", t.executions),
    fmt::arg("ol", t.owner_leases), fmt::arg("ecols", column_list("e")),
    fmt::arg("timeout", bounded("e.timeout_ms", stored_ranges::timeout_ms)),
    fmt::arg("recovery",
             bounded_increment("e.recoveries", stored_ranges::recoveries)),
    fmt::arg("version", bounded_increment("e.version", stored_ranges::version)),
    fmt::arg("leased",
             take_over ? fmt::format(
               "lost AS (SELECT x.id, x.due, x.took FROM {ol} o CROSS JOIN "
               "LATERAL (SELECT e.id, {lk} AS due, e.owner IS NOT NULL AS "
               "took FROM {t} e"
               "  WHERE e.owner = o.owner AND {lp_owned}"
               "    AND e.task_id = ANY($1::text[])"
               "    AND {lk} <= (SELECT now FROM n)"
               "  ORDER BY {lk}, e.id LIMIT $2::bigint"
               "  FOR UPDATE OF e SKIP LOCKED) x"
               "  WHERE o.expires_at <= (SELECT now FROM n)), "
               "freed AS (SELECT x.id, x.due, x.took FROM tk CROSS JOIN "
               "LATERAL (SELECT e.id, {lk} AS due, e.owner IS NOT NULL AS "
               "took FROM {t} e"
               "  WHERE e.task_id = tk.task_id AND e.owner IS NULL"
               "    AND {lp} AND {lk} <= (SELECT now FROM n)"
               "  ORDER BY {lk}, e.id LIMIT $2::bigint"
               "  FOR UPDATE OF e SKIP LOCKED) x), "
               "gone AS (DELETE FROM {ol} o"
               "  WHERE o.expires_at <= {now} - {grace} AND (SELECT 1"
               "    FROM {t} e WHERE e.owner = o.owner"
               "      AND e.status IN {act} LIMIT 1) IS NULL), "
               "leased AS (SELECT * FROM lost UNION ALL "
               "  SELECT * FROM freed), ",
               fmt::arg("t", t.executions), fmt::arg("ol", t.owner_leases),
               fmt::arg("lk", lease_key), fmt::arg("lp", leased_pred),
               fmt::arg("lp_owned", leased_pred_owned),
               fmt::arg("grace", owner_lease_grace_us),
               fmt::arg("now", now_expr(5)), fmt::arg("act", active_statuses))
                       : std::string{"leased AS (SELECT NULL::text AS id, "
                                     "NULL::bigint AS due, NULL::boolean AS "
                                     "took WHERE false), "}));
}

json_rows all_columns() {
  return json_rows{column_set{}.set()};
}

json_rows transition_columns() {
  static const auto set = [] {
    column_set out;
    for (auto i : transition_column_indexes())
      out.set(i);
    return out;
  }();
  return json_rows{set};
}

pqxx::result exec(pqxx::transaction_base& tx, const char* name,
                  const std::vector<param>& ps) {
  auto ptrs = pointers(ps);
  return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(ptrs));
}

} // namespace durable::storage::pg
