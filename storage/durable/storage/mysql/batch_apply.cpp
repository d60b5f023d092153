#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/row_codec.hpp"
#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql/transaction.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

// mysql_store::apply(): a batch of transitions in one write transaction,
// each row read FOR UPDATE and written guarded by its version, each
// transition under its own savepoint, with the cascade that cancels
// descendants.

namespace durable::storage {

namespace {

/// Cancels every unfinished descendant of `root`, as memory_store does.
/// A template only because mysql_store::txn is private to the store.
template <class Txn>
void cascade(Txn& tx, const execution_record& root,
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
      auto q = tx.prepare(mysql_detail::children_sql());
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

} // namespace

std::vector<write_outcome>
mysql_store::apply_batch(const std::vector<transition>& ts) {
  // The batch's rows are locked first, in id order (the primary key's), so
  // that two batches sharing rows wait for each other instead of
  // deadlocking; a deadlock with a cascade or a claim is still retried.
  std::vector<std::string> ids;
  ids.reserve(ts.size());
  for (const auto& t : ts)
    ids.push_back(t.next.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::string lock_sql = "SELECT id FROM executions WHERE id IN (";
  for (std::size_t i = 0; i < ids.size(); ++i)
    lock_sql += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 1);
  lock_sql += ") ORDER BY id FOR UPDATE";
  return run("apply", true, [&](txn& tx) {
    if (ids.size() > 1) {
      auto q = tx.prepare(lock_sql);
      for (std::size_t i = 0; i < ids.size(); ++i)
        q.bind(static_cast<int>(i + 1), ids[i]);
      while (q.step()) {
      }
    }
    const auto now = tx.now();
    std::vector<write_outcome> out;
    out.reserve(ts.size());
    for (auto& t : ts) {
      auto row = tx.row_by_id(t.next.id);
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
      // A child that collides fails its insert on a unique index; the
      // savepoint undoes the whole transition and nothing else.
      std::vector<store_event> events;
      tx.prepare(mysql_detail::savepoint_sql).run();
      try {
        if (!tx.update(next, t.expected_version))
          throw durable::error("version moved under the row lock");
        for (const auto& child : t.children)
          tx.insert(child);
        if (t.cancel_descendants)
          cascade(tx, next, events);
      } catch (const mysql_detail::mysql_error& e) {
        if (e.failure() != store_failure::fatal)
          throw; // a deadlock or a lost connection: the whole call again
        tx.prepare(mysql_detail::rollback_to_savepoint_sql).run();
        tx.prepare(mysql_detail::release_savepoint_sql).run();
        if (!e.is_duplicate())
          throw;
        out.push_back({write_status::rejected, std::move(row)});
        continue;
      }
      tx.prepare(mysql_detail::release_savepoint_sql).run();
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
  });
}

std::vector<write_outcome>
mysql_store::settle_in_doubt(const std::vector<transition>& ts) {
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    auto row = get(t.next.id);
    if (!row) {
      out.push_back({write_status::not_found, std::nullopt});
    } else if (row->version == t.expected_version + 1
               && row->status == t.next.status
               && row->updated_at == t.next.updated_at
               && row->owner == t.next.owner) {
      out.push_back({write_status::applied, std::move(row)});
    } else if (row->version == t.expected_version) {
      // Not written: the version guard makes writing it now safe.
      out.push_back(apply({t}).front());
    } else {
      out.push_back({write_status::conflict, std::move(row)});
    }
  }
  // The commit's own announcements may be lost.
  store_event resync;
  resync.kind = store_event::type::resync;
  notify({std::move(resync)});
  return out;
}

std::vector<write_outcome> mysql_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  try {
    return apply_batch(ts);
  } catch (const mysql_detail::call_error& e) {
    if (e.failure() == store_failure::in_doubt)
      return settle_in_doubt(ts);
    if (e.failure() != store_failure::fatal)
      throw;
  }
  // A fatal error failed the batch (data the server refused in one row, a
  // value too long for its column): one transition at a time, so that it
  // fails alone.
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    std::vector<transition> one{t};
    try {
      out.push_back(apply_batch(one).front());
    } catch (const mysql_detail::call_error& e) {
      if (e.failure() == store_failure::in_doubt) {
        out.push_back(settle_in_doubt(one).front());
        continue;
      }
      if (e.failure() != store_failure::fatal)
        throw;
      // The error's code, never the server's message (it may quote data).
      std::optional<execution_record> current;
      try {
        current = get(t.next.id);
      } catch (const store_error&) {
      }
      out.push_back({write_status::refused, std::move(current),
                     fmt::format("the MySQL store refused this transition "
                                 "(MySQL error {})",
                                 e.code())});
    }
  }
  return out;
}

} // namespace durable::storage
