#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/sql/statements.hpp"
#include "durable/store.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

/// The store calls the SQLite and the MySQL store make the same way, as
/// bodies for their run(): each takes the call's transaction (`Tx`, a
/// sql_detail::transaction, transaction.hpp) and returns the call's result.
/// Internal to storage/sql. apply is in apply.hpp, list and
/// count_by_status in listing.hpp, prune in prune.hpp, the node registry
/// in registry.hpp; renewals and leadership are each store's own.
///
/// **Threading, durability, errors.** Those of the transaction: these
/// functions only read and write through it, and collect in
/// `tx.events()` what the commit announces.
namespace durable::storage::sql_detail {

/// Due time of a claim candidate; a missing lease is due at once.
inline constexpr std::int64_t no_lease = std::numeric_limits<
  std::int64_t>::min();

/// store::insert: each row checked in memory_store::check_new_row's order,
/// then stored; announces the earliest ready row and every sleeper.
template <class Tx>
std::vector<insert_outcome>
insert_rows(Tx& tx, const std::vector<execution_record>& rows) {
  using kind = insert_outcome::kind;
  std::vector<insert_outcome> out;
  out.reserve(rows.size());
  const execution_record* earliest = nullptr;
  for (const auto& r : rows) {
    if (auto refused = stored_ranges::refused_insert(r)) {
      out.push_back(std::move(*refused));
      continue;
    }
    if (r.idempotency_key)
      if (auto id = tx.id_where(id_by_key_sql, *r.idempotency_key)) {
        auto task = tx.id_where(task_by_id_sql, *id);
        out.push_back({kind::duplicate_key, std::move(*id), task.value_or("")});
        continue;
      }
    if (tx.id_where(id_by_id_sql, r.id)) {
      out.push_back({kind::duplicate_id, r.id});
      continue;
    }
    if (r.sleeping_id)
      if (auto id = tx.id_where(id_by_sleeping_sql, *r.sleeping_id)) {
        out.push_back({kind::duplicate_sleeping_id, std::move(*id)});
        continue;
      }
    tx.insert_new(r);
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
}

/// The distinct tasks of a claim, sorted (empty: nothing to claim).
inline std::vector<std::string> claimed_tasks(const claim_request& req) {
  std::vector<std::string> tasks(req.task_ids.begin(), req.task_ids.end());
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  return tasks;
}

/// store::claim of `tasks` (claimed_tasks()): oldest first across every
/// task, the best `limit` of each task's ready and (with take_over)
/// expired and released rows, each read in index order with the dialect's
/// `skip_locked`, merged; then the earliest later start.
template <class Tx>
claim_result claim_rows(Tx& tx, const std::vector<std::string>& tasks,
                        const claim_request& req) {
  const auto& d = Tx::sql_dialect();
  static const std::string ready = std::string{ready_sql}
                                   + std::string{d.skip_locked};
  static const std::string expired = std::string{expired_sql}
                                     + std::string{d.skip_locked};
  static const std::string unleased = std::string{unleased_sql}
                                      + std::string{d.skip_locked};
  claim_result res;
  const auto now = tx.now();
  const auto limit = static_cast<std::int64_t>(
    std::min<std::size_t>(req.limit, std::numeric_limits<int>::max()));
  std::vector<std::pair<std::int64_t, std::string>> due;
  if (limit > 0) {
    for (const auto& task : tasks) {
      {
        auto q = tx.prepare(ready);
        q.bind(1, task).bind(2, now).bind(3, limit);
        while (q.step())
          due.emplace_back(q.int64(0), q.text(1));
      }
      if (!req.take_over)
        continue;
      {
        auto q = tx.prepare(expired);
        q.bind(1, task).bind(2, now).bind(3, limit);
        while (q.step())
          due.emplace_back(q.int64(0), q.text(1));
      }
      {
        auto q = tx.prepare(unleased);
        q.bind(1, task).bind(2, limit);
        while (q.step())
          due.emplace_back(no_lease, q.text(0));
      }
    }
  }
  std::sort(due.begin(), due.end());
  if (due.size() > static_cast<std::size_t>(limit))
    due.resize(static_cast<std::size_t>(limit));
  // The candidates in one read (locked in id order where rows are locked
  // one by one), then taken oldest first.
  std::vector<std::string> ids;
  ids.reserve(due.size());
  for (const auto& d : due)
    ids.push_back(d.second);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto rows = tx.rows_by_ids(ids);
  for (auto& [at, id] : due) {
    auto it = rows.find(id);
    // A corrupt row was just marked failed by rows_by_ids: not claimable.
    if (it == rows.end() || !store_rules::is_claimable(it->second, now))
      continue;
    auto r = std::move(it->second);
    rows.erase(it);
    auto old_version = r.version;
    const bool lost = store_rules::claim(r, now, req.owner, req.lease);
    if (!tx.update(r, old_version))
      throw durable::error("claim lost the row " + id);
    if (lost)
      res.taken_over.push_back(res.claimed.size());
    res.claimed.push_back(std::move(r));
  }
  for (const auto& task : tasks) {
    auto q = tx.prepare(next_ready_sql);
    q.bind(1, task).bind(2, now);
    if (q.step() && !q.is_null(0)) {
      auto at = from_micros(q.int64(0));
      if (!res.next_ready_at || at < *res.next_ready_at)
        res.next_ready_at = at;
    }
  }
  return res;
}

/// store::get_by_sleeping_id.
template <class Tx>
std::optional<execution_record>
row_by_sleeping_id(Tx& tx, const std::string& id) {
  auto q = tx.prepare(by_sleeping_id_sql());
  q.bind(1, id);
  auto found = tx.rows(q);
  if (found.empty())
    return std::nullopt;
  return std::move(found.front());
}

/// store::children_of, before sort_children().
template <class Tx>
std::vector<execution_record>
children_rows(Tx& tx, const std::string& parent_id) {
  auto q = tx.prepare(children_sql());
  q.bind(1, parent_id);
  return tx.rows(q);
}

/// Puts children in store::children_of's order: by index, the finalize
/// child last, then by id. Done outside the transaction.
inline void sort_children(std::vector<execution_record>& out) {
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    auto key = [](const execution_record& r) {
      return std::make_tuple(r.parent ? r.parent->is_finalize : false,
                             r.parent ? r.parent->index : 0u,
                             std::string_view{r.id});
    };
    return key(x) < key(y);
  });
}

/// store::scan_sleepers.
template <class Tx>
sleeper_scan scan_sleepers(Tx& tx, std::size_t limit) {
  sleeper_scan res;
  const auto now = tx.now();
  if (limit > 0) {
    auto q = tx.prepare(sleepers_due_sql());
    q.bind(1, now).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(
                             limit, std::numeric_limits<int>::max())));
    for (auto& r : tx.rows(q))
      // A repaired row is no longer a live sleeper.
      if (store_rules::is_live_sleeper(r))
        res.expired.push_back(std::move(r));
  }
  auto q = tx.prepare(next_deadline_sql);
  q.bind(1, now);
  if (q.step() && !q.is_null(0))
    res.next_deadline = from_micros(q.int64(0));
  return res;
}

/// store::watch: marks the row watched and returns it.
template <class Tx>
std::optional<execution_record> watch_row(Tx& tx, const std::string& id) {
  auto q = tx.prepare(watch_sql);
  q.bind(1, id);
  q.run();
  return tx.row_by_id(id);
}

/// store::erase.
template <class Tx>
bool erase_row(Tx& tx, const std::string& id) {
  auto q = tx.prepare(erase_sql);
  q.bind(1, id);
  return q.run() == 1;
}

} // namespace durable::storage::sql_detail
