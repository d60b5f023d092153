#include "durable/storage/sqlite_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/node_registry.hpp"
#include "durable/storage/sql/apply.hpp"
#include "durable/storage/sql/calls.hpp"
#include "durable/storage/sql/listing.hpp"
#include "durable/storage/sql/prune.hpp"
#include "durable/storage/sql/registry.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite/statements.hpp"
#include "durable/storage/sqlite/transaction.hpp"
#include "durable/store_rules.hpp"

// The SQLite store's public class. Each call runs one transaction
// (sqlite/transaction.hpp); its body is the code the SQLite and the MySQL
// store share (sql/: calls.hpp, apply.hpp, listing.hpp, prune.hpp,
// registry.hpp), except renewals and leadership, whose SQL is SQLite's.

namespace durable::storage {

// -- constructors, destructors, and assignment operators ----------------------

sqlite_store::sqlite_store(const std::string& path, sqlite_options opts)
  : path_(path),
    clock_(std::move(opts.clock)),
    db_(std::make_unique<sqlite_detail::connection>(path, opts)) {
  if (!clock_)
    clock_ = durable::system_now;
}

sqlite_store::~sqlite_store() = default;

// -- properties ---------------------------------------------------------------

void sqlite_store::set_clock(std::function<timestamp()> clock) {
  std::lock_guard guard{mutex_};
  clock_ = std::move(clock);
}

int sqlite_store::stored_schema_version() {
  return run("schema version", false, [](txn& tx) {
    auto q = tx.prepare(sqlite_detail::schema_version_sql);
    return q.step() ? static_cast<int>(q.int64(0)) : 0;
  });
}

std::size_t sqlite_store::size() {
  return run("size", false, [](txn& tx) {
    auto q = tx.prepare(sqlite_detail::count_sql);
    return q.step() ? static_cast<std::size_t>(q.int64(0)) : std::size_t{0};
  });
}

void sqlite_store::execute(const std::string& sql) {
  std::lock_guard guard{mutex_};
  try {
    db_->exec(sql);
  } catch (const sqlite_detail::sqlite_error& e) {
    throw store_error(e.failure(), fmt::format("sqlite store execute ({}): {}",
                                               path_, e.what()));
  }
}

timestamp sqlite_store::now() {
  std::lock_guard guard{mutex_};
  return clock_();
}

// -- writes -------------------------------------------------------------------

std::vector<insert_outcome>
sqlite_store::insert(std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  return run("insert", true,
             [&rows](txn& tx) { return sql_detail::insert_rows(tx, rows); });
}

std::vector<write_outcome> sqlite_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  return run("apply", true,
             [&ts](txn& tx) { return sql_detail::apply_transitions(tx, ts); });
}

claim_result sqlite_store::claim(const claim_request& req) {
  auto tasks = sql_detail::claimed_tasks(req);
  if (tasks.empty())
    return {};
  return run("claim", true,
             [&](txn& tx) { return sql_detail::claim_rows(tx, tasks, req); });
}

std::vector<std::string> sqlite_store::renew_leases(const std::string& owner,
                                                    millis lease) {
  return run("renew_leases", true, [&](txn& tx) {
    // Rows whose lease is not due keep it (store_rules::renewal_due) and
    // are returned too.
    auto q = tx.prepare(sqlite_detail::renew_sql);
    const auto now = tx.now();
    q.bind(1, now + lease)
      .bind(2, owner)
      .bind(3, store_rules::renewal_floor(now, lease));
    std::vector<std::string> renewed;
    while (q.step())
      renewed.push_back(q.text(0));
    return renewed;
  });
}

bool sqlite_store::try_lead(const std::string& role, const std::string& owner,
                            millis lease) {
  return run("try_lead", true, [&](txn& tx) {
    auto q = tx.prepare(sqlite_detail::lead_sql);
    const auto now = tx.now();
    q.bind(1, role).bind(2, owner).bind(3, now + lease).bind(4, now);
    return q.run() == 1;
  });
}

std::size_t sqlite_store::release_leases(const std::string& owner) {
  // Clearing the owner (without a version bump, like an expiry) is what
  // tells the next claim that this was a hand-over, not a recovery.
  return run("release_leases", true, [&](txn& tx) {
    auto q = tx.prepare(sql_detail::release_leases_sql);
    q.bind(1, tx.now()).bind(2, owner);
    return q.run();
  });
}

// -- reads --------------------------------------------------------------------

std::optional<execution_record> sqlite_store::get(const std::string& id) {
  return run("get", false, [&](txn& tx) { return tx.row_by_id(id); });
}

std::optional<execution_record>
sqlite_store::get_by_sleeping_id(const std::string& sleeping_id) {
  return run("get_by_sleeping_id", false, [&](txn& tx) {
    return sql_detail::row_by_sleeping_id(tx, sleeping_id);
  });
}

std::vector<execution_record>
sqlite_store::children_of(const std::string& parent_id) {
  auto out = run("children_of", false, [&](txn& tx) {
    return sql_detail::children_rows(tx, parent_id);
  });
  sql_detail::sort_children(out);
  return out;
}

sleeper_scan sqlite_store::scan_sleepers(std::size_t limit) {
  return run("scan_sleepers", false,
             [&](txn& tx) { return sql_detail::scan_sleepers(tx, limit); });
}

list_page sqlite_store::list(const list_request& req) {
  sql_detail::list_statement s{req, sqlite_detail::connection::dialect};
  return s.page(run("list", false, [&](txn& tx) { return s.read(tx); }));
}

status_counts sqlite_store::count_by_status(const execution_filter& filter) {
  sql_detail::count_statement s{filter, sqlite_detail::connection::dialect};
  return run("count_by_status", false, [&](txn& tx) { return s.read(tx); });
}

std::vector<ready_backlog_entry> sqlite_store::ready_backlog() {
  // The partial index executions_ready (task_id, start_at, id) WHERE
  // status = 0 serves it.
  return run("ready_backlog", false,
             [](txn& tx) { return sql_detail::ready_backlog_rows(tx); });
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> sqlite_store::watch(const std::string& id) {
  return run("watch", true,
             [&](txn& tx) { return sql_detail::watch_row(tx, id); });
}

bool sqlite_store::erase(const std::string& id) {
  return run("erase", true,
             [&](txn& tx) { return sql_detail::erase_row(tx, id); });
}

prune_result sqlite_store::prune(const prune_request& req) {
  sql_detail::prune_statement s{req, sqlite_detail::connection::dialect};
  return run("prune", s.writes(), [&](txn& tx) { return s.run(tx); });
}

// -- the node registry (tables `nodes` and `finished_minutes`)
// -----------------

void sqlite_store::report_node(const node_report& r) {
  validate(r);
  run("report_node", true, [&](txn& tx) {
    sql_detail::report_node_rows(tx, r);
    return true;
  });
}

std::vector<node_info> sqlite_store::nodes() {
  auto out = run("nodes", false,
                 [](txn& tx) { return sql_detail::node_rows(tx); });
  std::sort(out.begin(), out.end(), registry_order);
  return out;
}

std::vector<finished_count> sqlite_store::finished_by_minute(timestamp from,
                                                             timestamp to) {
  return run("finished_by_minute", false,
             [&](txn& tx) { return sql_detail::finished_rows(tx, from, to); });
}

// -- listeners ----------------------------------------------------------------

std::uint64_t sqlite_store::subscribe(store_listener listener) {
  return listeners_.subscribe(std::move(listener));
}

void sqlite_store::unsubscribe(std::uint64_t token) {
  listeners_.unsubscribe(token);
}

void sqlite_store::notify(std::vector<store_event>&& events) {
  listeners_.notify(std::move(events));
}

// -- factory ------------------------------------------------------------------

std::shared_ptr<durable::store> sqlite(const std::string& path,
                                       sqlite_options opts) {
  return std::make_shared<sqlite_store>(path, std::move(opts));
}

} // namespace durable::storage
