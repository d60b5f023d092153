#include "durable/storage/mysql_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/node_registry.hpp"
#include "durable/storage/mysql/announcements.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/schema.hpp"
#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql/transaction.hpp"
#include "durable/storage/sql/calls.hpp"
#include "durable/storage/sql/listing.hpp"
#include "durable/storage/sql/prune.hpp"
#include "durable/storage/sql/registry.hpp"
#include "durable/store_rules.hpp"

// The MySQL store's public class: connecting, the server's clock, and the
// calls. Each call runs one transaction (mysql/transaction.hpp); its body
// is the code the MySQL and the SQLite store share (sql/: calls.hpp,
// listing.hpp, prune.hpp, registry.hpp), except renewals and leadership,
// whose SQL is MySQL's, and apply, whose commit in doubt is settled here
// (mysql/batch_apply.cpp).

namespace durable::storage {

// -- constructors, destructors, and assignment operators ----------------------

mysql_store::mysql_store(mysql_options opts) : opts_(std::move(opts)) {
  if (opts_.url.empty()) {
    const char* env = std::getenv("DURABLE_MYSQL_URL");
    if (env == nullptr || *env == '\0')
      throw durable::error("mysql store: no URL (mysql_options::url or "
                           "DURABLE_MYSQL_URL)");
    opts_.url = env;
  }
  where_ = std::make_unique<mysql_detail::url_parts>(
    mysql_detail::parse_url(opts_.url));
  if (opts_.pool_size == 0)
    throw durable::error("mysql store: pool_size must be at least 1");
  for (std::size_t i = 0; i < opts_.pool_size; ++i)
    pool_.push_back(std::make_unique<lane>());
  try {
    auto& first = *pool_.front();
    std::lock_guard guard{first.mutex};
    mysql_detail::migrate(conn(first));
  } catch (const mysql_detail::mysql_error& e) {
    throw store_error(e.failure(), fmt::format("mysql store open ({}): {}",
                                               redacted_url(), e.what()));
  }
  if (opts_.announce)
    announce_ = std::make_unique<mysql_detail::announcements>(
      *where_, opts_, [this] { return clock_now(); },
      [this](std::vector<store_event> events) {
        listeners_.notify(std::move(events));
      });
}

mysql_store::~mysql_store() = default;

std::pair<mysql_store::lane*, std::unique_lock<std::mutex>>
mysql_store::take_lane() {
  const auto n = pool_.size();
  const auto start = next_lane_.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    auto& l = *pool_[(start + i) % n];
    std::unique_lock guard{l.mutex, std::try_to_lock};
    if (guard.owns_lock())
      return {&l, std::move(guard)};
  }
  auto& l = *pool_[start % n];
  return {&l, std::unique_lock{l.mutex}};
}

mysql_detail::connection& mysql_store::conn(lane& l) {
  if (l.db && !l.db->healthy())
    l.db.reset();
  if (!l.db) {
    l.db = std::make_unique<mysql_detail::connection>(*where_, opts_);
    measure_clock(l);
  } else if (std::chrono::steady_clock::now() - l.measured_at
             >= opts_.clock_refresh) {
    measure_clock(l);
  }
  return *l.db;
}

void mysql_store::measure_clock(lane& l) {
  // The midpoint of the round trip; NOW(6) is UTC (the session's
  // time_zone is +00:00), UNIX_TIMESTAMP converts it to the epoch.
  auto before = durable::system_now();
  auto server = l.db->scalar("SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 "
                             "AS SIGNED)");
  auto after = durable::system_now();
  l.measured_at = std::chrono::steady_clock::now();
  if (!server)
    return;
  auto local = to_micros(before) + (to_micros(after) - to_micros(before)) / 2;
  offset_us_.store(std::stoll(*server) - local);
}

timestamp mysql_store::clock_now() {
  {
    std::lock_guard guard{clock_mutex_};
    if (opts_.clock)
      return opts_.clock();
  }
  return durable::system_now() + std::chrono::microseconds{offset_us_.load()};
}

std::string mysql_store::redacted_url() const {
  if (where_->socket)
    return fmt::format("mysql://{}@localhost/{}?socket={}", where_->user,
                       where_->database, *where_->socket);
  return fmt::format("mysql://{}@{}:{}/{}", where_->user, where_->host,
                     where_->port, where_->database);
}

// -- properties ---------------------------------------------------------------

void mysql_store::set_clock(std::function<timestamp()> clock) {
  std::lock_guard guard{clock_mutex_};
  opts_.clock = std::move(clock);
}

int mysql_store::stored_schema_version() {
  return run("schema version", false, [](txn& tx) {
    auto q = tx.prepare(mysql_detail::schema_version_sql);
    return q.step() ? static_cast<int>(q.int64(0)) : 0;
  });
}

void mysql_store::execute(const std::string& sql) {
  auto& first = *pool_.front();
  std::lock_guard guard{first.mutex};
  try {
    conn(first).exec(sql);
  } catch (const mysql_detail::mysql_error& e) {
    throw store_error(e.failure(), fmt::format("mysql store execute ({}): {}",
                                               redacted_url(), e.what()));
  }
}

timestamp mysql_store::now() {
  // Never blocks on I/O (store.hpp): the injected clock, or this machine's
  // plus the server's offset as the calls last measured it.
  return clock_now();
}

// -- writes -------------------------------------------------------------------

std::vector<insert_outcome>
mysql_store::insert(std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  try {
    return insert_batch(rows);
  } catch (const mysql_detail::call_error& e) {
    if (e.failure() == store_failure::fatal && rows.size() > 1) {
      // One row the server refused (a value too long for its column)
      // fails alone: one row at a time.
      std::vector<insert_outcome> out;
      for (const auto& r : rows) {
        try {
          out.push_back(insert({r}).front());
        } catch (const mysql_detail::call_error& one) {
          if (one.failure() != store_failure::fatal)
            throw;
          out.push_back({insert_outcome::kind::refused,
                         r.id,
                         {},
                         fmt::format("the MySQL store refused this row "
                                     "(MySQL error {})",
                                     one.code())});
        }
      }
      return out;
    }
    if (e.failure() != store_failure::in_doubt)
      throw;
  }
  // The COMMIT is in doubt. Ids are the caller's, so inserting again
  // settles it: a row the first attempt stored comes back as a duplicate
  // of itself (its own id, key or sleeping id) and was inserted; the
  // others are stored now. If this fails too, insert() is in doubt.
  auto out = insert_batch(rows);
  using kind = insert_outcome::kind;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i].result != kind::inserted && out[i].result != kind::refused
        && out[i].execution_id == rows[i].id)
      out[i] = {kind::inserted, rows[i].id};
  return out;
}

std::vector<insert_outcome>
mysql_store::insert_batch(const std::vector<execution_record>& rows) {
  return run("insert", true,
             [&rows](txn& tx) { return sql_detail::insert_rows(tx, rows); });
}

claim_result mysql_store::claim(const claim_request& req) {
  auto tasks = sql_detail::claimed_tasks(req);
  if (tasks.empty())
    return {};
  std::lock_guard one_claim{claim_mutex_};
  return run("claim", true,
             [&](txn& tx) { return sql_detail::claim_rows(tx, tasks, req); });
}

std::vector<std::string> mysql_store::renew_leases(const std::string& owner,
                                                   millis lease) {
  return run(leases_, "renew_leases", true, [&](txn& tx) {
    // Rows whose lease is not due keep it (store_rules::renewal_due) and
    // are returned too. MariaDB has no UPDATE ... RETURNING: the ids are
    // read (and locked) first.
    std::vector<std::string> renewed;
    {
      auto q = tx.prepare(mysql_detail::owned_ids_sql);
      q.bind(1, owner);
      while (q.step())
        renewed.push_back(q.text(0));
    }
    if (renewed.empty())
      return renewed;
    auto q = tx.prepare(mysql_detail::renew_sql);
    const auto now = tx.now();
    q.bind(1, now + lease)
      .bind(2, owner)
      .bind(3, store_rules::renewal_floor(now, lease));
    q.run();
    return renewed;
  });
}

bool mysql_store::try_lead(const std::string& role, const std::string& owner,
                           millis lease) {
  return run(leases_, "try_lead", true, [&](txn& tx) {
    const auto now = tx.now();
    {
      auto q = tx.prepare(mysql_detail::lead_insert_sql);
      q.bind(1, role).bind(2, owner).bind(3, now + lease);
      if (q.run() == 1)
        return true;
    }
    auto q = tx.prepare(mysql_detail::lead_update_sql);
    q.bind(1, role).bind(2, owner).bind(3, now + lease).bind(4, now);
    return q.run() == 1;
  });
}

std::size_t mysql_store::release_leases(const std::string& owner) {
  // Clearing the owner (without a version bump, like an expiry) is what
  // tells the next claim that this was a hand-over, not a recovery.
  return run(leases_, "release_leases", true, [&](txn& tx) {
    auto q = tx.prepare(sql_detail::release_leases_sql);
    q.bind(1, tx.now()).bind(2, owner);
    return q.run();
  });
}

// -- reads --------------------------------------------------------------------

std::optional<execution_record> mysql_store::get(const std::string& id) {
  return run("get", false, [&](txn& tx) { return tx.row_by_id(id); });
}

std::optional<execution_record>
mysql_store::get_by_sleeping_id(const std::string& sleeping_id) {
  return run("get_by_sleeping_id", false, [&](txn& tx) {
    return sql_detail::row_by_sleeping_id(tx, sleeping_id);
  });
}

std::vector<execution_record>
mysql_store::children_of(const std::string& parent_id) {
  auto out = run("children_of", false, [&](txn& tx) {
    return sql_detail::children_rows(tx, parent_id);
  });
  sql_detail::sort_children(out);
  return out;
}

sleeper_scan mysql_store::scan_sleepers(std::size_t limit) {
  return run("scan_sleepers", false,
             [&](txn& tx) { return sql_detail::scan_sleepers(tx, limit); });
}

list_page mysql_store::list(const list_request& req) {
  sql_detail::list_statement s{req, mysql_detail::connection::dialect};
  return s.page(run("list", false, [&](txn& tx) { return s.read(tx); }));
}

status_counts mysql_store::count_by_status(const execution_filter& filter) {
  sql_detail::count_statement s{filter, mysql_detail::connection::dialect};
  return run("count_by_status", false, [&](txn& tx) { return s.read(tx); });
}

std::vector<ready_backlog_entry> mysql_store::ready_backlog() {
  // The index executions_ready (status, task_id, start_at, id) serves it.
  return run("ready_backlog", false,
             [](txn& tx) { return sql_detail::ready_backlog_rows(tx); });
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> mysql_store::watch(const std::string& id) {
  return run("watch", true,
             [&](txn& tx) { return sql_detail::watch_row(tx, id); });
}

bool mysql_store::erase(const std::string& id) {
  return run("erase", true,
             [&](txn& tx) { return sql_detail::erase_row(tx, id); });
}

prune_result mysql_store::prune(const prune_request& req) {
  sql_detail::prune_statement s{req, mysql_detail::connection::dialect};
  return run("prune", s.writes(), [&](txn& tx) { return s.run(tx); });
}

// -- the node registry (tables `nodes` and `finished_minutes`)
// -----------------

void mysql_store::report_node(const node_report& r) {
  validate(r);
  run("report_node", true, [&](txn& tx) {
    sql_detail::report_node_rows(tx, r);
    return true;
  });
}

std::vector<node_info> mysql_store::nodes() {
  auto out = run("nodes", false,
                 [](txn& tx) { return sql_detail::node_rows(tx); });
  std::sort(out.begin(), out.end(), registry_order);
  return out;
}

std::vector<finished_count> mysql_store::finished_by_minute(timestamp from,
                                                            timestamp to) {
  return run("finished_by_minute", false,
             [&](txn& tx) { return sql_detail::finished_rows(tx, from, to); });
}

// -- listeners ----------------------------------------------------------------

std::uint64_t mysql_store::subscribe(store_listener listener) {
  auto token = listeners_.subscribe(std::move(listener));
  if (announce_)
    announce_->start();
  return token;
}

void mysql_store::unsubscribe(std::uint64_t token) {
  listeners_.unsubscribe(token);
}

void mysql_store::notify(std::vector<store_event>&& events) {
  listeners_.notify(std::move(events));
}

// -- factory ------------------------------------------------------------------

std::shared_ptr<durable::store> mysql(mysql_options opts) {
  return std::make_shared<mysql_store>(std::move(opts));
}

} // namespace durable::storage
