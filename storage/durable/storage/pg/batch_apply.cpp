#include "durable/storage/pg/batch_apply.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>

#include "durable/error.hpp"
#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"

namespace durable::storage::pg {

namespace {

std::string parent_id_of(const execution_record& r) {
  return r.parent ? r.parent->execution_id : std::string{};
}

bool is_live_sleeper(const execution_record& r) noexcept {
  return r.is_sleeping() && r.status == execution_status::running
         && r.expires_at.has_value();
}

/// The stored row after `t` applied as `w` says.
execution_record row_after(execution_record next, const transition& t,
                           const applied_write& w) {
  next.version = t.expected_version + 1;
  next.lease_expires_at = w.lease_expires_at;
  next.watched = w.watched;
  return next;
}

/// Appends the events store.hpp lists for transition `t` that applied as
/// `w` says (the store-managed fields of the row are w's). `with_rows`:
/// `finished` events carry the row (for local listeners; a NOTIFY payload
/// does not need it).
void add_events(const transition& t, applied_write& w,
                std::vector<store_event>& events, bool with_rows = true) {
  const auto& next = t.next;
  if (next.is_finished() && (next.parent || w.watched))
    events.push_back({store_event::type::finished, next.id,
                      parent_id_of(next), {}, next.finished_at.value_or(w.now),
                      with_rows ? std::make_shared<const execution_record>(
                                    row_after(next, t, w))
                                : nullptr});
  const execution_record* earliest = nullptr;
  if (next.status == execution_status::ready)
    earliest = &next;
  for (const auto& kid : w.kids)
    if (!w.cascaded.contains(kid.id) && kid.status == execution_status::ready
        && (!earliest || kid.start_at < earliest->start_at))
      earliest = &kid;
  if (earliest)
    events.push_back({store_event::type::work_ready, earliest->id, {}, {},
                      earliest->start_at});
  for (const auto& kid : w.kids)
    if (!w.cascaded.contains(kid.id) && is_live_sleeper(kid))
      events.push_back({store_event::type::deadline, kid.id, {}, {},
                        *kid.expires_at});
  if (next.status == execution_status::cancelled && w.prev_owner)
    events.push_back({store_event::type::cancelled, next.id, {},
                      std::move(*w.prev_owner), w.now});
  std::move(w.cascade_events.begin(), w.cascade_events.end(),
            std::back_inserter(events));
}

/// Whether the events of `ts` can be known before the write: the time of
/// a `finished` event is the row's finished_at, which only a transition
/// that sets none would leave to the server's clock.
bool announceable(const std::vector<transition>& ts) {
  return std::none_of(ts.begin(), ts.end(), [](const transition& t) {
    return t.next.is_finished() && !t.next.finished_at;
  });
}

/// A batch applied without its savepoint met a colliding child: apply()
/// runs it again with the savepoint. A durable::error, so that impl::run()
/// passes it through without a retry of its own.
struct children_collided : durable::error {
  children_collided() : durable::error("a child collided") {
  }
};

/// Whether a child may collide with a stored row for a reason other than
/// its random id: a sleeping id or an idempotency key.
bool may_collide(const execution_record& child) {
  return child.sleeping_id.has_value() || child.idempotency_key.has_value();
}

} // namespace

bool carries(const execution_record& r, const transition& t) {
  return r.version == t.expected_version + 1
         && r.updated_at == t.next.updated_at && r.status == t.next.status
         && r.owner == t.next.owner;
}

void pg_store::impl::apply_plain(pqxx::transaction_base& tx,
                                 const std::vector<const transition*>& ts,
                                 std::vector<applied_write*>& applied,
                                 std::vector<write_outcome*>& out,
                                 bool with_owner,
                                 const announcement* announce,
                                 bool own_writes) {
  auto batch = transition_columns();
  std::vector<std::string> ids;
  ids.reserve(ts.size());
  for (const auto* t : ts) {
    batch.add(t->next, t->expected_version);
    ids.push_back(t->next.id);
  }
  auto res = announce
               ? exec(tx, st_apply_announce,
                      {now_param(), batch.take(), channel, announce->expected,
                       str(static_cast<std::int64_t>(ts.size())),
                       announce->resync, to_array_literal(ids)})
               : exec(tx, with_owner ? st_apply_owner : st_apply,
                      {now_param(), batch.take(), to_array_literal(ids)});
  std::unordered_map<std::string_view, std::size_t> by_id;
  for (std::size_t r = 0; r < res.size(); ++r)
    if (!res[r][0].is_null()) // st_apply_announce's notification row
      by_id.emplace(res[r][0].c_str(), r);
  std::vector<std::string> missing;
  for (std::size_t k = 0; k < ts.size(); ++k) {
    auto it = by_id.find(ts[k]->next.id);
    if (it == by_id.end()) {
      missing.push_back(ts[k]->next.id);
      continue;
    }
    const auto& row = res[it->second];
    auto& w = *applied[k];
    if (!row[1].is_null())
      w.prev_owner = row[1].c_str();
    w.now = time_of(row[2]);
    w.lease_expires_at = row[3].is_null() ? std::optional<timestamp>{}
                                          : time_of(row[3]);
    w.watched = row[4].as<bool>();
    *out[k] = {write_status::applied, std::nullopt};
  }
  if (missing.empty())
    return;
  // The version did not match, or the row is gone: report the stored row.
  std::unordered_map<std::string, execution_record> current;
  for (const auto& row : exec(tx, st_get_many, {to_array_literal(missing)})) {
    auto r = decode(row);
    auto id = r.id;
    current.emplace(std::move(id), std::move(r));
  }
  for (std::size_t k = 0; k < ts.size(); ++k) {
    if (out[k]->status == write_status::applied)
      continue;
    auto it = current.find(ts[k]->next.id);
    if (it == current.end()) {
      applied[k] = nullptr;
      *out[k] = {write_status::not_found, std::nullopt};
    } else if (own_writes && carries(it->second, *ts[k])) {
      auto& w = *applied[k];
      w.now = it->second.updated_at;
      w.lease_expires_at = it->second.lease_expires_at;
      w.watched = it->second.watched;
      *out[k] = {write_status::applied, std::nullopt};
    } else {
      applied[k] = nullptr;
      *out[k] = {write_status::conflict, it->second};
    }
  }
}

void pg_store::impl::apply_one(pqxx::transaction_base& tx,
                               const transition& t, write_outcome& out,
                               applied_write*& w, bool want) {
  // A savepoint per transition with children: a colliding child undoes
  // only its own transition. (Plain SQL: libpqxx 6.4's subtransaction
  // issues no SAVEPOINT before exec_prepared/exec_params.)
  const bool sub = !t.children.empty();
  if (sub)
    tx.exec("SAVEPOINT durable_transition");
  {
    std::vector<const transition*> one{&t};
    std::vector<applied_write*> ws{w};
    std::vector<write_outcome*> outs{&out};
    apply_plain(tx, one, ws, outs,
                t.next.status == execution_status::cancelled);
    w = ws[0];
  }
  if (out.status != write_status::applied) {
    if (sub)
      tx.exec("RELEASE SAVEPOINT durable_transition");
    return;
  }
  if (sub) {
    std::vector<execution_record> copy = t.children;
    auto kids = insert_rows(tx, copy, nullptr, true);
    bool clash = std::any_of(kids.begin(), kids.end(), [](auto& o) {
      return o.result != insert_outcome::kind::inserted;
    });
    if (clash) {
      tx.exec("ROLLBACK TO SAVEPOINT durable_transition");
      tx.exec("RELEASE SAVEPOINT durable_transition");
      w = nullptr;
      auto cur = exec(tx, st_get, {t.next.id});
      out = {write_status::rejected,
             cur.empty() ? std::nullopt : std::optional{decode(cur[0])}};
      return;
    }
    tx.exec("RELEASE SAVEPOINT durable_transition");
    w->kids = std::move(copy);
  }
  if (t.cancel_descendants) {
    const auto& row = t.next;
    auto msg = row.error ? row.error->message : std::string{};
    // Until a pass cancels nothing: a descendant that was storing its own
    // children while the first pass ran held its row, which the pass
    // cancelled once that commit was done, but the children it inserted
    // came after the pass's snapshot. Each statement sees every commit
    // made before it started, and no child can be inserted later under a
    // row a pass cancelled (its writer's version no longer matches).
    for (;;) {
      auto cres = exec(tx, st_cascade,
                       {row.id, row.task_id, msg, now_param()});
      if (cres.empty())
        break;
      add_cascaded(cres, *w, want);
    }
  }
}

void pg_store::impl::add_cascaded(const pqxx::result& cres, applied_write& w,
                                  bool want) {
  for (const auto& c : cres) {
    std::string id = c[0].c_str();
    std::string parent = c[1].is_null() ? "" : c[1].c_str();
    auto at = time_of(c[3]);
    if (want) {
      if (!c[2].is_null())
        w.cascade_events.push_back(
          {store_event::type::cancelled, id, {}, c[2].c_str(), at});
      w.cascade_events.push_back(
        {store_event::type::finished, id, parent, {}, at});
    }
    w.cascaded.insert(std::move(id));
  }
}

std::vector<write_outcome>
pg_store::impl::apply_batch(std::vector<transition>& ts) {
  auto& d = *this;
  const bool want = d.wants_events();
  std::vector<store_event> events;
  d.lower_floors(d.floors.needed(ts, to_micros(d.now())));
  // Plain transitions (no cascade, no cancel, first of their id in the
  // batch) are one UPDATE, in id order; those of them with children
  // ("spawning") then insert every child in one INSERT. Only if a child
  // collides does the batch fall back to one transition at a time, so
  // that the collision undoes only its own transition. The rest (cascades,
  // cancels, repeated ids) go one by one.
  std::vector<std::size_t> plain, spawning, special;
  {
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const auto& t = ts[i];
      if (t.cancel_descendants || t.next.status == execution_status::cancelled
          || !seen.insert(t.next.id).second)
        special.push_back(i);
      else if (t.children.empty())
        plain.push_back(i);
      else
        spawning.push_back(i);
    }
  }
  auto by_id = [&](std::vector<std::size_t> v) {
    std::sort(v.begin(), v.end(), [&](std::size_t a, std::size_t b) {
      return ts[a].next.id < ts[b].next.id;
    });
    return v;
  };
  std::vector<std::size_t> together = plain;
  together.insert(together.end(), spawning.begin(), spawning.end());
  together = by_id(std::move(together));
  plain = by_id(std::move(plain));
  std::vector<write_outcome> out;
  std::vector<applied_write> writes;
  std::vector<applied_write*> applied;
  auto reset = [&](const std::vector<std::size_t>& which) {
    for (auto i : which) {
      out[i] = write_outcome{};
      writes[i] = applied_write{};
      applied[i] = &writes[i];
    }
  };
  auto apply_plain = [&](pqxx::transaction_base& tx,
                         const std::vector<std::size_t>& which,
                         const announcement* announce = nullptr,
                         bool own_writes = false) {
    std::vector<const transition*> batch;
    std::vector<applied_write*> ws;
    std::vector<write_outcome*> outs;
    for (auto i : which) {
      batch.push_back(&ts[i]);
      ws.push_back(applied[i]);
      outs.push_back(&out[i]);
    }
    d.apply_plain(tx, batch, ws, outs, false, announce, own_writes);
    for (std::size_t k = 0; k < which.size(); ++k)
      applied[which[k]] = ws[k];
  };
  // Inserts the children of every spawning transition that applied; false
  // (nothing inserted) if one collides.
  auto insert_children = [&](pqxx::work& tx) {
    std::vector<execution_record> kids;
    for (auto i : spawning)
      if (applied[i])
        kids.insert(kids.end(), ts[i].children.begin(), ts[i].children.end());
    if (kids.empty())
      return true;
    auto outcomes = d.insert_rows(tx, kids, nullptr, true);
    if (std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
          return o.result != insert_outcome::kind::inserted;
        }))
      return false;
    for (auto i : spawning)
      if (applied[i])
        applied[i]->kids = ts[i].children;
    return true;
  };
  // The savepoint costs two round trips of every commit that spawns
  // (a fan-out, a finalize run here). Children that carry neither a
  // sleeping id nor a key collide only if a random id repeats: they go
  // without it, and the batch runs again with it if one ever does.
  bool guarded = std::any_of(spawning.begin(), spawning.end(),
                             [&](std::size_t i) {
                               return std::any_of(ts[i].children.begin(),
                                                  ts[i].children.end(),
                                                  may_collide);
                             });
  auto start = [&] {
    events.clear();
    out.assign(ts.size(), write_outcome{});
    writes.assign(ts.size(), applied_write{});
    applied.resize(ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i)
      applied[i] = &writes[i];
  };
  auto collect_events = [&] {
    if (want)
      for (std::size_t i = 0; i < ts.size(); ++i)
        if (applied[i])
          add_events(ts[i], *applied[i], events);
  };
  auto finish = [&] {
    for (std::size_t i = 0; i < ts.size(); ++i)
      if (applied[i])
        out[i].current = row_after(std::move(ts[i].next), ts[i], *applied[i]);
    d.notify(std::move(events));
    return std::move(out);
  };
  // A batch of plain transitions alone is one statement outside a
  // transaction block, its NOTIFY inside it: one round trip where BEGIN,
  // UPDATE, NOTIFY and COMMIT took four. This is the usual batch of
  // completions, and the round trips were a third of the time from a
  // child's end to its parent's. The statement commits entirely or not at
  // all, so a connection that broke while it ran is retried like any
  // other: the statement runs again and counts the rows that already
  // carry their transition (it committed the first time) as applied.
  if (spawning.empty() && special.empty() && announceable(ts)) {
    std::optional<announcement> announce;
    if (want && d.opts.notify) {
      // What the batch announces if every transition applies to a row
      // nobody watches; st_apply_announce checks both.
      std::vector<store_event> expected;
      for (const auto& t : ts) {
        applied_write w;
        add_events(t, w, expected, false);
      }
      store_event resync;
      resync.kind = store_event::type::resync;
      announce = announcement{encode_notification(d.sender_id, expected),
                              *encode_notification(d.sender_id, {resync})};
    }
    int attempts = 0;
    d.run<pqxx::nontransaction>(
      "apply", impl::mode::write, [&](pqxx::nontransaction& tx) {
        start();
        apply_plain(tx, plain, announce ? &*announce : nullptr,
                    attempts++ > 0);
        collect_events();
        return true;
      });
    return finish();
  }
  // The body may run again (a conflict or a lost connection), so it reads
  // `ts` without changing it; the rows are moved out after the commit.
  auto body = [&](pqxx::work& tx) {
    start();
    // Lock every row of the batch in id order first, so that two batches
    // touching the same rows never deadlock (the plain statement alone
    // locks its rows in order too).
    if (!special.empty() && ts.size() > 1) {
      std::set<std::string> ids;
      for (const auto& t : ts)
        ids.insert(t.next.id);
      exec(tx, st_lock,
           {to_array_literal(std::vector<std::string>(ids.begin(),
                                                      ids.end()))});
    }
    bool done = false;
    if (!spawning.empty() && !guarded) {
      apply_plain(tx, together);
      if (!insert_children(tx))
        throw children_collided{}; // rolls the transaction back
      done = true;
    } else if (!spawning.empty()) {
      tx.exec("SAVEPOINT durable_batch");
      apply_plain(tx, together);
      if (insert_children(tx)) {
        tx.exec("RELEASE SAVEPOINT durable_batch");
        done = true;
      } else {
        tx.exec("ROLLBACK TO SAVEPOINT durable_batch");
        tx.exec("RELEASE SAVEPOINT durable_batch");
        reset(together);
      }
    }
    if (!done) {
      if (!plain.empty())
        apply_plain(tx, plain);
      for (auto i : spawning)
        d.apply_one(tx, ts[i], out[i], applied[i], want);
    }
    for (auto i : special)
      d.apply_one(tx, ts[i], out[i], applied[i], want);
    collect_events();
    d.announce(tx, events, true);
    return true;
  };
  try {
    d.run<pqxx::work>("apply", impl::mode::write, body);
  } catch (const children_collided&) {
    guarded = true;
    d.run<pqxx::work>("apply", impl::mode::write, body);
  }
  return finish();
}

} // namespace durable::storage::pg
