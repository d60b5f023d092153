#pragma once

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/sql/statements.hpp"
#include "durable/store.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

/// store::apply as the SQLite and the MySQL store run it: a batch of
/// transitions in one write transaction (`Tx`, transaction.hpp), each
/// written guarded by its version under a savepoint of its own, with the
/// children it inserts and the cascade that cancels descendants. Internal
/// to storage/sql.
///
/// **Durability.** The batch's rows are read first in one statement, in id
/// order and locked (the dialect's `lock_rows`; SQLite's write lock already
/// holds them), so that two batches that share rows wait for each other
/// instead of deadlocking. A child that collides on a unique index rejects
/// its own transition only: the savepoint undoes that transition and
/// nothing else.
///
/// **Errors.** A failure that is not the row's (`Tx::error` other than
/// `fatal`: a lost connection, a deadlock) leaves the whole call to the
/// backend's run(); a fatal one other than a constraint fails the call.
namespace durable::storage::sql_detail {

/// Cancels every unfinished descendant of `root`, as memory_store does.
template <class Tx>
void cascade(Tx& tx, const execution_record& root,
             std::vector<store_event>& events) {
  const auto now = tx.now();
  std::vector<execution_record> todo{root};
  // Guards against a parent link that loops back (only a corrupt row could
  // make one).
  std::unordered_set<std::string> seen{root.id};
  while (!todo.empty()) {
    auto parent = std::move(todo.back());
    todo.pop_back();
    std::vector<execution_record> kids;
    {
      auto q = tx.prepare(children_sql());
      q.bind(1, parent.id);
      kids = tx.rows(q);
    }
    for (auto& child : kids) {
      if (!seen.insert(child.id).second)
        continue;
      if (!child.is_finished()) {
        auto prev_owner = child.owner;
        auto old_version = child.version;
        store_rules::cancel_descendant(child, parent, now);
        if (!tx.update(child, old_version))
          throw durable::error("cascade lost the row " + child.id);
        if (prev_owner)
          events.push_back({store_event::type::cancelled,
                            child.id,
                            {},
                            std::move(*prev_owner),
                            now});
        events.push_back({store_event::type::finished,
                          child.id,
                          store_rules::parent_id_of(child),
                          {},
                          now});
      }
      todo.push_back(std::move(child));
    }
  }
}

/// The body of store::apply for `ts` (not empty).
template <class Tx>
std::vector<write_outcome>
apply_transitions(Tx& tx, const std::vector<transition>& ts) {
  static const std::string rollback_to_savepoint{
    Tx::sql_dialect().rollback_to_savepoint};
  static const std::string release_savepoint{
    Tx::sql_dialect().release_savepoint};
  // Every row of the batch in one read (locked in id order where rows are
  // locked one by one), kept up to date as the batch writes them.
  std::unordered_map<std::string, execution_record> current;
  {
    std::vector<std::string> ids;
    ids.reserve(ts.size());
    for (const auto& t : ts)
      ids.push_back(t.next.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    current = tx.rows_by_ids(ids);
  }
  auto stored = [&](const std::string& id) -> std::optional<execution_record> {
    if (auto it = current.find(id); it != current.end())
      return it->second;
    // Not read with the batch, or changed by a cascade since: read now.
    return tx.row_by_id(id);
  };
  const auto now = tx.now();
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  for (auto& t : ts) {
    auto row = stored(t.next.id);
    if (auto reason = stored_ranges::refused_write(t)) {
      out.push_back(
        {write_status::refused, std::move(row), std::move(*reason)});
      continue;
    }
    if (!row) {
      out.push_back({write_status::not_found, std::nullopt});
      continue;
    }
    if (row->version != t.expected_version) {
      out.push_back({write_status::conflict, std::move(row)});
      continue;
    }
    // A renewal may have moved the lease since the writer read the row:
    // a transition that keeps the owner never moves the lease back.
    auto next = t.next;
    if (next.owner && next.owner == row->owner && row->lease_expires_at
        && (!next.lease_expires_at
            || *next.lease_expires_at < *row->lease_expires_at))
      next.lease_expires_at = row->lease_expires_at;
    next.version = t.expected_version + 1;
    next.watched = row->watched;
    // A child that collides fails its insert on a unique index, and so
    // would a row whose own unique key changed: a savepoint then undoes
    // the whole transition and nothing else. A transition that can meet
    // no unique index runs without one (two statements fewer).
    const bool guarded = !t.children.empty()
                         || next.sleeping_id != row->sleeping_id
                         || next.idempotency_key != row->idempotency_key;
    std::vector<store_event> events;
    if (guarded)
      tx.prepare(savepoint_sql).run();
    try {
      if (!tx.update(next, t.expected_version))
        throw durable::error("version moved under the row lock");
      for (const auto& child : t.children)
        tx.insert(child);
      if (t.cancel_descendants)
        cascade(tx, next, events);
    } catch (const typename Tx::error& e) {
      // A lost connection or a deadlock: the whole call runs again.
      if (e.failure() != store_failure::fatal || !guarded)
        throw;
      tx.prepare(rollback_to_savepoint).run();
      tx.prepare(release_savepoint).run();
      if (!e.is_constraint())
        throw;
      out.push_back({write_status::rejected, std::move(row)});
      continue;
    }
    if (guarded)
      tx.prepare(release_savepoint).run();
    current.insert_or_assign(next.id, next);
    // Rows the cascade changed are read again if the batch meets them.
    for (const auto& e : events)
      current.erase(e.execution_id);
    auto& ev = tx.events();
    // Events describe the state after the whole transition, cascade
    // included, so a child the cascade cancelled is not announced ready.
    if (next.is_finished() && (next.parent || next.watched))
      ev.push_back({store_event::type::finished,
                    next.id,
                    store_rules::parent_id_of(next),
                    {},
                    next.finished_at.value_or(now),
                    std::make_shared<const execution_record>(next)});
    std::unordered_set<std::string> cancelled;
    for (const auto& e : events)
      if (e.kind == store_event::type::finished)
        cancelled.insert(e.execution_id);
    const execution_record* earliest = nullptr;
    if (next.status == execution_status::ready)
      earliest = &next;
    for (const auto& kid : t.children)
      if (kid.status == execution_status::ready && !cancelled.contains(kid.id)
          && (!earliest || kid.start_at < earliest->start_at))
        earliest = &kid;
    if (earliest)
      ev.push_back({store_event::type::work_ready,
                    earliest->id,
                    {},
                    {},
                    earliest->start_at});
    for (const auto& kid : t.children)
      if (store_rules::is_live_sleeper(kid) && !cancelled.contains(kid.id))
        ev.push_back(
          {store_event::type::deadline, kid.id, {}, {}, *kid.expires_at});
    if (next.status == execution_status::cancelled && row->owner)
      ev.push_back(
        {store_event::type::cancelled, next.id, {}, *row->owner, now});
    std::move(events.begin(), events.end(), std::back_inserter(ev));
    out.push_back({write_status::applied, std::move(next)});
  }
  return out;
}

} // namespace durable::storage::sql_detail
