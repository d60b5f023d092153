#include "durable/storage/sqlite_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite/row_codec.hpp"
#include "durable/storage/sqlite/statements.hpp"
#include "durable/storage/sqlite/transaction.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

// The SQLite store's public class: the calls that are one statement or a
// few, and the listeners. The rest is in sqlite/ (its README.md): apply in
// batch_apply.cpp, list and count_by_status in listing.cpp.

namespace durable::storage {

namespace {

/// Due time of a claim candidate; a missing lease is due at once.
constexpr std::int64_t no_lease = std::numeric_limits<std::int64_t>::min();

} // namespace

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
  return run("insert", true, [&rows](txn& tx) {
    using kind = insert_outcome::kind;
    std::vector<insert_outcome> out;
    out.reserve(rows.size());
    const execution_record* earliest = nullptr;
    for (const auto& r : rows) {
      if (auto refused = stored_ranges::refused_insert(r)) {
        out.push_back(std::move(*refused));
        continue;
      }
      // Same order of checks as memory_store::check_new_row.
      if (r.idempotency_key)
        if (auto id = tx.id_where(sqlite_detail::id_by_key_sql,
                                  *r.idempotency_key)) {
          auto task = tx.id_where(sqlite_detail::task_by_id_sql, *id);
          out.push_back(
            {kind::duplicate_key, std::move(*id), task.value_or("")});
          continue;
        }
      if (tx.id_where(sqlite_detail::id_by_id_sql, r.id)) {
        out.push_back({kind::duplicate_id, r.id});
        continue;
      }
      if (r.sleeping_id)
        if (auto id = tx.id_where(sqlite_detail::id_by_sleeping_sql,
                                  *r.sleeping_id)) {
          out.push_back({kind::duplicate_sleeping_id, std::move(*id)});
          continue;
        }
      tx.insert(r);
      out.push_back({kind::inserted, r.id});
      if (r.status == execution_status::ready
          && (!earliest || r.start_at < earliest->start_at))
        earliest = &r;
      if (r.is_sleeping())
        tx.events().push_back({store_event::type::deadline,
                               r.id,
                               {},
                               {},
                               r.expires_at.value_or(r.start_at)});
    }
    if (earliest)
      tx.events().push_back({store_event::type::work_ready,
                             earliest->id,
                             {},
                             {},
                             earliest->start_at});
    return out;
  });
}

claim_result sqlite_store::claim(const claim_request& req) {
  std::vector<std::string> tasks(req.task_ids.begin(), req.task_ids.end());
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  if (tasks.empty())
    return {};
  return run("claim", true, [&](txn& tx) {
    claim_result res;
    const auto now = tx.now();
    const auto limit = static_cast<std::int64_t>(
      std::min<std::size_t>(req.limit, std::numeric_limits<int>::max()));
    // Oldest first across every requested task: the best `limit` of each
    // task's ready and expired rows (each read in index order), merged.
    std::vector<std::pair<std::int64_t, std::string>> due;
    if (limit > 0) {
      for (const auto& task : tasks) {
        {
          auto q = tx.prepare(sqlite_detail::ready_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        if (!req.take_over)
          continue;
        {
          auto q = tx.prepare(sqlite_detail::expired_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        {
          auto q = tx.prepare(sqlite_detail::unleased_sql);
          q.bind(1, task).bind(2, limit);
          while (q.step())
            due.emplace_back(no_lease, q.text(0));
        }
      }
    }
    std::sort(due.begin(), due.end());
    if (due.size() > static_cast<std::size_t>(limit))
      due.resize(static_cast<std::size_t>(limit));
    for (auto& [at, id] : due) {
      auto r = tx.row_by_id(id);
      // A corrupt row was just marked failed by row_by_id: not claimable.
      if (!r || !store_rules::is_claimable(*r, now))
        continue;
      auto old_version = r->version;
      const bool lost = store_rules::claim(*r, now, req.owner, req.lease);
      if (!tx.update(*r, old_version))
        throw durable::error("claim lost the row " + id);
      if (lost)
        res.taken_over.push_back(res.claimed.size());
      res.claimed.push_back(std::move(*r));
    }
    for (const auto& task : tasks) {
      auto q = tx.prepare(sqlite_detail::next_ready_sql);
      q.bind(1, task).bind(2, now);
      if (q.step() && !q.is_null(0)) {
        auto at = from_micros(q.int64(0));
        if (!res.next_ready_at || at < *res.next_ready_at)
          res.next_ready_at = at;
      }
    }
    return res;
  });
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
    auto q = tx.prepare(sqlite_detail::release_leases_sql);
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
  return run("get_by_sleeping_id", false,
             [&](txn& tx) -> std::optional<execution_record> {
               auto q = tx.prepare(sqlite_detail::by_sleeping_id_sql());
               q.bind(1, sleeping_id);
               auto found = tx.rows(q);
               if (found.empty())
                 return std::nullopt;
               return std::move(found.front());
             });
}

std::vector<execution_record>
sqlite_store::children_of(const std::string& parent_id) {
  auto out = run("children_of", false, [&](txn& tx) {
    auto q = tx.prepare(sqlite_detail::children_sql());
    q.bind(1, parent_id);
    return tx.rows(q);
  });
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    auto key = [](const execution_record& r) {
      return std::make_tuple(r.parent ? r.parent->is_finalize : false,
                             r.parent ? r.parent->index : 0u,
                             std::string_view{r.id});
    };
    return key(x) < key(y);
  });
  return out;
}

sleeper_scan sqlite_store::scan_sleepers(std::size_t limit) {
  return run("scan_sleepers", false, [&](txn& tx) {
    sleeper_scan res;
    const auto now = tx.now();
    if (limit > 0) {
      auto q = tx.prepare(sqlite_detail::sleepers_due_sql());
      q.bind(1, now).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(
                               limit, std::numeric_limits<int>::max())));
      for (auto& r : tx.rows(q))
        // A repaired row is no longer a live sleeper.
        if (store_rules::is_live_sleeper(r))
          res.expired.push_back(std::move(r));
    }
    auto q = tx.prepare(sqlite_detail::next_deadline_sql);
    q.bind(1, now);
    if (q.step() && !q.is_null(0))
      res.next_deadline = from_micros(q.int64(0));
    return res;
  });
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> sqlite_store::watch(const std::string& id) {
  return run("watch", true, [&](txn& tx) {
    auto q = tx.prepare(sqlite_detail::watch_sql);
    q.bind(1, id);
    q.run();
    return tx.row_by_id(id);
  });
}

bool sqlite_store::erase(const std::string& id) {
  return run("erase", true, [&](txn& tx) {
    auto q = tx.prepare(sqlite_detail::erase_sql);
    q.bind(1, id);
    return q.run() == 1;
  });
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
