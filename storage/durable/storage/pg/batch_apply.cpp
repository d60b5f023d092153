#include "durable/storage/pg/batch_apply.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"
#include "durable/store_rules.hpp"

namespace durable::storage::pg {

namespace {

using store_rules::is_live_sleeper;
using store_rules::parent_id_of;

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
    events.push_back({store_event::type::finished,
                      next.id,
                      parent_id_of(next),
                      {},
                      next.finished_at.value_or(w.now),
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
    events.push_back({store_event::type::work_ready,
                      earliest->id,
                      {},
                      {},
                      earliest->start_at});
  for (const auto& kid : w.kids)
    if (!w.cascaded.contains(kid.id) && is_live_sleeper(kid))
      events.push_back(
        {store_event::type::deadline, kid.id, {}, {}, *kid.expires_at});
  if (next.status == execution_status::cancelled && w.prev_owner)
    events.push_back({store_event::type::cancelled,
                      next.id,
                      {},
                      std::move(*w.prev_owner),
                      w.now});
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

/// Whether a child may collide with a stored row for a reason other than
/// its random id: a sleeping id or an idempotency key.
bool may_collide(const execution_record& child) {
  return child.sleeping_id.has_value() || child.idempotency_key.has_value();
}

/// What became of the children of a batch's spawning transitions.
enum class children_outcome {
  inserted, ///< every child is stored (or none was left to store)
  collided, ///< one collided with a stored row; the others, inserted,
            ///< are to be rolled back with it
};

/// One apply_batch(): the batch sorted by how it is written, and the
/// outcomes of its current attempt.
///
/// Plain transitions (no cascade, no cancel, first of their id in the
/// batch) are one UPDATE, in id order; those of them with children
/// ("spawning") then insert every child in one INSERT. Only if a child
/// collides does the batch fall back to one transition at a time, so
/// that the collision undoes only its own transition. The rest (cascades,
/// cancels, repeated ids) go one by one.
///
/// A write may run again (a conflict or a lost connection): each starts
/// the attempt over and reads the transitions without changing them;
/// finish() moves the rows out once the batch committed.
class batch_writer {
public:
  batch_writer(pg_store::impl& d, std::vector<transition>& ts);

  /// Whether the batch is plain transitions alone whose events are known
  /// before the write: then it is one statement (write_alone()).
  bool alone() const;

  /// What a batch written alone announces if every transition applies to
  /// a row nobody watches (st_apply_announce checks both), and the resync
  /// it sends otherwise; nullopt when nobody listens.
  std::optional<announcement> expected_announcement() const;

  /// The batch as one statement outside a transaction block, its NOTIFY
  /// inside it. `own_writes`: rows that already carry their transition
  /// count as applied (a run again after a lost connection).
  void write_alone(pqxx::nontransaction& tx, const announcement* announce,
                   bool own_writes);

  /// The batch in the transaction `tx`. `roll_back` when a child
  /// collided while written without the savepoint: nothing of the batch
  /// may commit then; guard() and write it again.
  txn_end write(pqxx::work& tx);

  /// From now on, children are written under a savepoint, so that a
  /// collision undoes only its own transitions.
  void guard() {
    guarded_ = true;
  }

  /// The outcomes of the attempt that committed, with the rows moved out
  /// of the transitions; tells the local listeners.
  std::vector<write_outcome> finish();

private:
  void start();
  void reset(const std::vector<std::size_t>& which);

  /// The transitions `which` in one statement (impl::apply_plain()).
  void update(pqxx::transaction_base& tx, const std::vector<std::size_t>& which,
              const announcement* announce = nullptr, bool own_writes = false);

  /// Locks every row of the batch in id order, if it has special ones.
  void lock_rows(pqxx::work& tx);

  /// Inserts the children of every spawning transition that applied.
  children_outcome insert_children(pqxx::work& tx);

  /// Plain and spawning transitions in one UPDATE, their children in one
  /// INSERT. On `collided` the transaction holds a partial batch.
  children_outcome write_together(pqxx::work& tx);

  /// write_together() under a savepoint: on `collided` it is undone.
  children_outcome write_together_guarded(pqxx::work& tx);

  /// Plain transitions in one UPDATE, each spawning one alone under its
  /// own savepoint (impl::apply_one()).
  void write_apart(pqxx::work& tx);

  void collect_events();

  pg_store::impl& d_;
  std::vector<transition>& ts_;
  const bool want_;
  std::vector<std::size_t> plain_;
  std::vector<std::size_t> spawning_;
  std::vector<std::size_t> special_;
  /// plain_ and spawning_, in id order.
  std::vector<std::size_t> together_;
  bool guarded_ = false;
  std::vector<store_event> events_;
  std::vector<write_outcome> out_;
  std::vector<applied_write> writes_;
  std::vector<applied_write*> applied_;
};

batch_writer::batch_writer(pg_store::impl& d, std::vector<transition>& ts)
  : d_(d), ts_(ts), want_(d.wants_events()) {
  {
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const auto& t = ts[i];
      if (t.cancel_descendants || t.next.status == execution_status::cancelled
          || !seen.insert(t.next.id).second)
        special_.push_back(i);
      else if (t.children.empty())
        plain_.push_back(i);
      else
        spawning_.push_back(i);
    }
  }
  auto by_id = [&](std::vector<std::size_t> v) {
    std::sort(v.begin(), v.end(), [&](std::size_t a, std::size_t b) {
      return ts[a].next.id < ts[b].next.id;
    });
    return v;
  };
  together_ = plain_;
  together_.insert(together_.end(), spawning_.begin(), spawning_.end());
  together_ = by_id(std::move(together_));
  plain_ = by_id(std::move(plain_));
  // The savepoint costs two round trips of every commit that spawns
  // (a fan-out, a finalize run here). Children that carry neither a
  // sleeping id nor a key collide only if a random id repeats: they go
  // without it, and the batch runs again with it if one ever does.
  guarded_ = std::any_of(
    spawning_.begin(), spawning_.end(), [&](std::size_t i) {
      return std::any_of(ts[i].children.begin(), ts[i].children.end(),
                         may_collide);
    });
}

bool batch_writer::alone() const {
  return spawning_.empty() && special_.empty() && announceable(ts_);
}

std::optional<announcement> batch_writer::expected_announcement() const {
  if (!want_ || !d_.opts.notify)
    return std::nullopt;
  std::vector<store_event> expected;
  for (const auto& t : ts_) {
    applied_write w;
    add_events(t, w, expected, false);
  }
  store_event resync;
  resync.kind = store_event::type::resync;
  return announcement{encode_notification(d_.sender_id, expected),
                      *encode_notification(d_.sender_id, {resync})};
}

void batch_writer::write_alone(pqxx::nontransaction& tx,
                               const announcement* announce, bool own_writes) {
  start();
  update(tx, plain_, announce, own_writes);
  collect_events();
}

txn_end batch_writer::write(pqxx::work& tx) {
  start();
  lock_rows(tx);
  bool together = false;
  if (!spawning_.empty()) {
    const auto children = guarded_ ? write_together_guarded(tx)
                                   : write_together(tx);
    if (children == children_outcome::collided && !guarded_)
      return txn_end::roll_back; // the whole batch, not only the children
    together = children == children_outcome::inserted;
  }
  if (!together)
    write_apart(tx);
  for (auto i : special_)
    d_.apply_one(tx, ts_[i], out_[i], applied_[i], want_);
  collect_events();
  d_.announce(tx, events_, true);
  return txn_end::commit;
}

std::vector<write_outcome> batch_writer::finish() {
  for (std::size_t i = 0; i < ts_.size(); ++i)
    if (applied_[i])
      out_[i].current = row_after(std::move(ts_[i].next), ts_[i], *applied_[i]);
  d_.notify(std::move(events_));
  return std::move(out_);
}

void batch_writer::start() {
  events_.clear();
  out_.assign(ts_.size(), write_outcome{});
  writes_.assign(ts_.size(), applied_write{});
  applied_.resize(ts_.size());
  for (std::size_t i = 0; i < ts_.size(); ++i)
    applied_[i] = &writes_[i];
}

void batch_writer::reset(const std::vector<std::size_t>& which) {
  for (auto i : which) {
    out_[i] = write_outcome{};
    writes_[i] = applied_write{};
    applied_[i] = &writes_[i];
  }
}

void batch_writer::update(pqxx::transaction_base& tx,
                          const std::vector<std::size_t>& which,
                          const announcement* announce, bool own_writes) {
  std::vector<const transition*> batch;
  std::vector<applied_write*> ws;
  std::vector<write_outcome*> outs;
  for (auto i : which) {
    batch.push_back(&ts_[i]);
    ws.push_back(applied_[i]);
    outs.push_back(&out_[i]);
  }
  d_.apply_plain(tx, batch, ws, outs, false, announce, own_writes);
  for (std::size_t k = 0; k < which.size(); ++k)
    applied_[which[k]] = ws[k];
}

void batch_writer::lock_rows(pqxx::work& tx) {
  // So that two batches touching the same rows never deadlock (the plain
  // statement alone locks its rows in order too).
  if (special_.empty() || ts_.size() <= 1)
    return;
  std::set<std::string> ids;
  for (const auto& t : ts_)
    ids.insert(t.next.id);
  exec(tx, st_lock,
       {to_array_literal(std::vector<std::string>(ids.begin(), ids.end()))});
}

children_outcome batch_writer::insert_children(pqxx::work& tx) {
  std::vector<execution_record> kids;
  for (auto i : spawning_)
    if (applied_[i])
      kids.insert(kids.end(), ts_[i].children.begin(), ts_[i].children.end());
  if (kids.empty())
    return children_outcome::inserted;
  auto outcomes = d_.insert_rows(tx, kids, nullptr, true);
  if (std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) {
        return o.result != insert_outcome::kind::inserted;
      }))
    return children_outcome::collided;
  for (auto i : spawning_)
    if (applied_[i])
      applied_[i]->kids = ts_[i].children;
  return children_outcome::inserted;
}

children_outcome batch_writer::write_together(pqxx::work& tx) {
  update(tx, together_);
  return insert_children(tx);
}

children_outcome batch_writer::write_together_guarded(pqxx::work& tx) {
  tx.exec("SAVEPOINT durable_batch");
  const auto children = write_together(tx);
  if (children == children_outcome::inserted) {
    tx.exec("RELEASE SAVEPOINT durable_batch");
  } else {
    tx.exec("ROLLBACK TO SAVEPOINT durable_batch");
    tx.exec("RELEASE SAVEPOINT durable_batch");
    reset(together_);
  }
  return children;
}

void batch_writer::write_apart(pqxx::work& tx) {
  if (!plain_.empty())
    update(tx, plain_);
  for (auto i : spawning_)
    d_.apply_one(tx, ts_[i], out_[i], applied_[i], want_);
}

void batch_writer::collect_events() {
  if (want_)
    for (std::size_t i = 0; i < ts_.size(); ++i)
      if (applied_[i])
        add_events(ts_[i], *applied_[i], events_);
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
                                 bool with_owner, const announcement* announce,
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

void pg_store::impl::apply_one(pqxx::transaction_base& tx, const transition& t,
                               write_outcome& out, applied_write*& w,
                               bool want) {
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
      auto cres = exec(tx, st_cascade, {row.id, row.task_id, msg, now_param()});
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
  batch_writer batch{*this, ts};
  lower_floors(floors.needed(ts, to_micros(now())));
  // A batch of plain transitions alone is one statement outside a
  // transaction block, its NOTIFY inside it: one round trip where BEGIN,
  // UPDATE, NOTIFY and COMMIT took four. This is the usual batch of
  // completions, and the round trips were a third of the time from a
  // child's end to its parent's. The statement commits entirely or not at
  // all, so a connection that broke while it ran is retried like any
  // other: the statement runs again and counts the rows that already
  // carry their transition (it committed the first time) as applied.
  if (batch.alone()) {
    const auto announce = batch.expected_announcement();
    int attempts = 0;
    run<pqxx::nontransaction>(
      "apply", mode::write, [&](pqxx::nontransaction& tx) {
        batch.write_alone(tx, announce ? &*announce : nullptr, attempts++ > 0);
        return true;
      });
    return batch.finish();
  }
  auto write = [&](pqxx::work& tx) { return batch.write(tx); };
  if (run<pqxx::work>("apply", mode::write, write) == txn_end::roll_back) {
    // A child collided without the savepoint: nothing was committed.
    batch.guard();
    run<pqxx::work>("apply", mode::write, write);
  }
  return batch.finish();
}

} // namespace durable::storage::pg
