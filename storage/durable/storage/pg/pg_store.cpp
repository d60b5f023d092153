#include "durable/storage/pg/pg_store.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/status.hpp"
#include "durable/ids.hpp"
#include "durable/storage/pg/error_mapping.hpp"
#include "durable/storage/pg/json_rows.hpp"
#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/storage/pg/transaction_runner.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::storage::pg {

namespace {

using namespace std::chrono_literals;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::string parent_id_of(const execution_record& r) {
  return r.parent ? r.parent->execution_id : std::string{};
}

bool is_live_sleeper(const execution_record& r) noexcept {
  return r.is_sleeping() && r.status == execution_status::running
         && r.expires_at.has_value();
}

} // namespace

// -- impl ---------------------------------------------------------------------

pg_store::impl::impl(pg_options o)
  : opts(std::move(o)), url(resolve_url(opts)),
    target(url.empty() ? std::string{"the libpq default server (PGHOST, "
                                      "PGPORT, PGDATABASE)"}
                       : redact(url)),
    table(quote_ident(opts.schema) + ".executions"),
    pool(with_keepalives(url, opts),
         std::clamp<std::size_t>(opts.pool_size, 1, 64),
         [this](pqxx::connection& c) { prepare(c); }),
    lease_pool(with_keepalives(url, opts), 1,
               [this](pqxx::connection& c) {
                 prepare(c, {st_renew, st_renew_held, st_lead, st_release,
                             st_notify});
               }),
    sender_id(make_incarnation_id()),
    channel(notification_channel(opts.schema)) {
  build_statements();
}

timestamp pg_store::impl::now() {
  if (opts.clock)
    return opts.clock();
  const auto age = steady_ns() - offset_measured_ns.load();
  if (age > std::chrono::nanoseconds{opts.clock_refresh}.count()
      && !refreshing.exchange(true)) {
    // Only one caller refreshes, and only with an idle connection: now()
    // must stay cheap, so a busy pool just keeps the old offset a while.
    try {
      if (auto c = pool.try_acquire())
        measure_offset(**c);
    } catch (...) {
      // Keep the old offset; the next call tries again.
    }
    refreshing.store(false);
  }
  return system_now() + std::chrono::microseconds{offset_us.load()};
}

void pg_store::impl::measure_offset(pqxx::connection_base& c) {
  pqxx::nontransaction tx{c};
  auto before = system_now();
  auto r = tx.exec1("SELECT (extract(epoch from clock_timestamp()) "
                    "* 1000000)::bigint");
  auto after = system_now();
  auto server = r[0].as<std::int64_t>();
  auto local = to_micros(before) + (to_micros(after) - to_micros(before)) / 2;
  offset_us.store(server - local);
  offset_measured_ns.store(steady_ns());
}

param pg_store::impl::now_param() {
  if (opts.clock)
    return str(to_micros(opts.clock()));
  return std::nullopt;
}

void pg_store::impl::build_statements() {
  const schema_tables t{opts.schema};
  insert_sql = insert_statement(t);
  conflicts_sql = conflicts_statement(t);
  claim_sql = claim_statement(t, true);
  statements = store_statements(t);
}

void pg_store::impl::prepare(pqxx::connection& c,
                             const std::vector<const char*>& only) {
  c.set_variable("application_name", c.quote(opts.application_name));
  c.set_variable("statement_timeout",
                 std::to_string(opts.statement_timeout.count()));
  c.set_variable("idle_in_transaction_session_timeout",
                 std::to_string(opts.idle_in_transaction_timeout.count()));
  auto wanted = [&](const std::string& name) {
    return only.empty()
           || std::any_of(only.begin(), only.end(),
                          [&](const char* n) { return name == n; });
  };
  for (const auto& [name, sql] : statements)
    if (wanted(name))
      c.prepare(name, sql);
  // Prepare now, not at first use: the first claim or apply of a new
  // connection would otherwise pay for planning every statement it uses.
  for (const auto& [name, sql] : statements)
    if (wanted(name))
      c.prepare_now(name);
}

void pg_store::impl::notify(std::vector<store_event>&& events) {
  if (events.empty())
    return;
  std::lock_guard guard{listeners_mutex};
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    // The commit stands whatever a listener does.
    try {
      if (i + 1 == listeners.size())
        listeners[i].second(std::move(events));
      else
        listeners[i].second(events);
    } catch (...) {
    }
  }
}

void pg_store::impl::announce(pqxx::transaction_base& tx,
                              const std::vector<store_event>& events,
                              bool prepared) {
  if (!opts.notify)
    return;
  auto payload = encode_notification(sender_id, events);
  if (!payload)
    return;
  if (prepared)
    exec(tx, st_notify, {channel, *payload});
  else
    tx.exec_params("SELECT pg_notify($1, $2)", channel, *payload);
}

void pg_store::impl::update_inbound() {
  std::lock_guard guard{inbound_mutex};
  const bool wanted = opts.listen && listener_count.load() > 0;
  if (wanted && !inbound) {
    inbound = std::make_unique<listener>(
      url, channel, sender_id, opts.application_name + " listener",
      [this](std::vector<store_event> events) { notify(std::move(events)); });
  } else if (!wanted && inbound) {
    inbound.reset();
  }
}

// -- pg_store -----------------------------------------------------------------

pg_store::pg_store(pg_options opts)
  : impl_(std::make_unique<impl>(std::move(opts))) {
  if (impl_->opts.schema.empty())
    throw durable::error("PostgreSQL store: the schema name is empty");
  try {
    {
      // Migrate on a plain connection first (statements can only be
      // prepared once the tables exist), then hand it to the pool.
      auto c = std::make_unique<pqxx::connection>(impl_->url);
      if (impl_->opts.migrate) {
        migrate(*c, impl_->opts.schema);
      } else if (auto v = schema_version(*c, impl_->opts.schema);
                 v != latest_schema_version()) {
        throw durable::error(fmt::format(
          "PostgreSQL store: schema {} on {} is at version {}, this binary "
          "uses version {}: apply the migrations first (durablectl migrate)",
          impl_->opts.schema, impl_->target, v, latest_schema_version()));
      }
      impl_->measure_offset(*c);
      impl_->pool.adopt(std::move(c));
    }
    // Open the whole pool now: fail fast, and no connect latency later.
    std::vector<connection_pool::lease> warm;
    for (std::size_t i = 0; i < impl_->pool.size(); ++i)
      warm.push_back(impl_->pool.acquire());
  } catch (const durable::error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    throw durable::error(fmt::format(
      "PostgreSQL store: cannot connect to {} (set DURABLE_PG_URL or "
      "pg_options::url): {}",
      impl_->target, one_line(redact(e.what()))));
  } catch (...) {
    auto f = classify(std::current_exception());
    throw durable::error(fmt::format(
      "PostgreSQL store: cannot open schema {} on {}: {}",
      impl_->opts.schema, impl_->target, one_line(redact(f.what))));
  }
}

pg_store::~pg_store() = default;

const std::string& pg_store::schema() const noexcept {
  return impl_->opts.schema;
}

const std::string& pg_store::target() const noexcept {
  return impl_->target;
}

timestamp pg_store::now() {
  return impl_->now();
}

/// A transition that applied: what the store decided (the row after the
/// write is the transition's `next` with these), and what its events need.
struct applied_write {
  std::optional<std::string> prev_owner;
  timestamp now{};
  std::optional<timestamp> lease_expires_at;
  bool watched = false;
  std::vector<execution_record> kids;
  std::vector<store_event> cascade_events;
  std::unordered_set<std::string> cascaded;
};

namespace {

/// The stored row after `t` applied as `w` says.
execution_record row_after(execution_record next, const transition& t,
                           const applied_write& w) {
  next.version = t.expected_version + 1;
  next.lease_expires_at = w.lease_expires_at;
  next.watched = w.watched;
  return next;
}

/// Whether the stored row `r` is what transition `t` writes: the version
/// after it, and the `updated_at` (the writer's clock, to the microsecond),
/// status and owner it sets.
bool carries(const execution_record& r, const transition& t) {
  return r.version == t.expected_version + 1
         && r.updated_at == t.next.updated_at && r.status == t.next.status
         && r.owner == t.next.owner;
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

} // namespace

void pg_store::impl::lower_floors(std::vector<owner_floors::floor> fs) {
  if (fs.empty())
    return;
  std::vector<std::string> owners;
  std::string ats = "{";
  for (const auto& f : fs) {
    owners.push_back(f.owner);
    if (ats.size() > 1)
      ats += ',';
    ats += str(f.at);
  }
  ats += '}';
  // On its own, before the write: a floor lowered for a write that then
  // fails is merely low, and the floor's row stays locked only for this
  // statement, not for the write's transaction.
  run<pqxx::nontransaction>(
    "lower_floors", mode::idempotent, [&](pqxx::nontransaction& tx) {
      const auto learned = to_micros(now());
      auto stored = exec(tx, st_floors, {to_array_literal(owners), ats});
      for (const auto& row : stored)
        floors.remember(row[0].c_str(), row[1].as<std::int64_t>(), learned);
      return stored.size();
    });
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

namespace {

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

std::vector<write_outcome> pg_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  auto& d = *impl_;
  // A transition that would store a number out of range never reaches the
  // server: it is refused alone, with the row as stored.
  std::vector<write_outcome> out(ts.size());
  std::vector<std::size_t> kept, refused;
  kept.reserve(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (auto reason = stored_ranges::refused_write(ts[i])) {
      out[i].status = write_status::refused;
      out[i].reason = std::move(*reason);
      refused.push_back(i);
    } else {
      kept.push_back(i);
    }
  }
  if (refused.empty())
    return d.apply_storable(ts);
  std::vector<std::string> ids;
  for (auto i : refused)
    ids.push_back(ts[i].next.id);
  std::vector<transition> storable;
  storable.reserve(kept.size());
  for (auto i : kept)
    storable.push_back(std::move(ts[i]));
  if (!storable.empty()) {
    auto written = d.apply_storable(storable);
    for (std::size_t k = 0; k < kept.size() && k < written.size(); ++k)
      out[kept[k]] = std::move(written[k]);
  }
  try {
    auto stored = d.run<pqxx::nontransaction>(
      "apply (read a refused row)", impl::mode::idempotent,
      [&](pqxx::nontransaction& tx) {
        std::unordered_map<std::string, execution_record> found;
        for (const auto& row : exec(tx, st_get_many, {to_array_literal(ids)})) {
          auto r = decode(row);
          auto id = r.id;
          found.emplace(std::move(id), std::move(r));
        }
        return found;
      });
    for (std::size_t k = 0; k < refused.size(); ++k)
      if (auto it = stored.find(ids[k]); it != stored.end())
        out[refused[k]].current = it->second;
  } catch (const std::exception&) {
    // Left without them: the writer re-reads.
  }
  return out;
}

std::vector<write_outcome>
pg_store::impl::apply_storable(std::vector<transition>& ts) {
  auto& d = *this;
  try {
    return d.apply_batch(ts);
  } catch (const store_error& e) {
    switch (e.failure()) {
      case store_failure::in_doubt:
        return d.settle_in_doubt(ts);
      case store_failure::fatal:
        // One row's data (invalid bytes, a trigger's error, a check) fails
        // the statement of the whole batch: apply each alone, so that only
        // the rows that fail by themselves are refused.
        return d.apply_each(ts, e.what());
      default:
        throw; // unavailable or conflicting: nothing written, for any row
    }
  }
}

std::vector<write_outcome>
pg_store::impl::settle_in_doubt(std::vector<transition>& ts) {
  // The commit may have happened. Every transition is guarded by its
  // version, so each row read back tells what became of it: one that
  // carries its transition was written (with its children and cascade,
  // in the same commit); one still at its expected version was not, and
  // may be written again; any other lost to another writer. The
  // announcements of a commit that did happen are lost: resync.
  std::vector<std::string> ids;
  ids.reserve(ts.size());
  for (const auto& t : ts)
    ids.push_back(t.next.id);
  std::unordered_map<std::string, execution_record> stored;
  run<pqxx::nontransaction>(
    "apply (re-read after a commit in doubt)", mode::idempotent,
    [&](pqxx::nontransaction& tx) {
      stored.clear();
      for (const auto& row : exec(tx, st_get_many, {to_array_literal(ids)})) {
        auto r = decode(row);
        auto id = r.id;
        stored.emplace(std::move(id), std::move(r));
      }
      return true;
    });
  std::vector<write_outcome> out(ts.size());
  std::vector<transition> again;
  std::vector<std::size_t> again_at;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    auto it = stored.find(ts[i].next.id);
    if (it == stored.end()) {
      out[i] = {write_status::not_found, std::nullopt};
    } else if (carries(it->second, ts[i])) {
      out[i] = {write_status::applied, std::move(it->second)};
    } else if (it->second.version == ts[i].expected_version) {
      again_at.push_back(i);
      again.push_back(std::move(ts[i]));
    } else {
      out[i] = {write_status::conflict, std::move(it->second)};
    }
  }
  if (!again.empty()) {
    auto retried = apply_batch(again);
    for (std::size_t k = 0; k < again_at.size() && k < retried.size(); ++k)
      out[again_at[k]] = std::move(retried[k]);
  }
  store_event resync;
  resync.kind = store_event::type::resync;
  notify({resync});
  return out;
}

std::vector<write_outcome>
pg_store::impl::apply_each(std::vector<transition>& ts,
                           const std::string& batch_error) {
  std::vector<write_outcome> out(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    std::vector<transition> one;
    one.push_back(std::move(ts[i]));
    if (ts.size() == 1) {
      out[i].reason = batch_error; // it failed alone already
    } else {
      try {
        out[i] = std::move(apply_batch(one).front());
        continue;
      } catch (const store_error& e) {
        if (e.failure() == store_failure::in_doubt) {
          out[i] = std::move(settle_in_doubt(one).front());
          continue;
        }
        if (e.failure() != store_failure::fatal)
          throw;
        out[i].reason = e.what();
      }
    }
    out[i].status = write_status::refused;
    // The row as stored, so that the writer can record why it failed.
    try {
      out[i].current = run<pqxx::nontransaction>(
        "apply (read a refused row)", mode::idempotent,
        [&](pqxx::nontransaction& tx) -> std::optional<execution_record> {
          auto res = exec(tx, st_get, {one.front().next.id});
          if (res.empty())
            return std::nullopt;
          return decode(res[0]);
        });
    } catch (const std::exception&) {
      // Left without it: the writer re-reads.
    }
  }
  return out;
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

claim_result pg_store::claim(const claim_request& req) {
  claim_result res;
  if (req.task_ids.empty())
    return res;
  auto& d = *impl_;
  std::vector<std::string> tasks = req.task_ids;
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  std::vector<param> ps{to_array_literal(tasks),
                        str(static_cast<std::int64_t>(req.limit)), req.owner,
                        str(std::chrono::microseconds{req.lease}.count()),
                        d.now_param()};
  // Rows found corrupt or out of range (failed in the claim's
  // transaction), announced to this process's listeners once it
  // committed; the end of those with a parent or a waiter to everyone.
  std::vector<store_event> corrupt;
  std::vector<store_event> ended;
  auto result = d.run<pqxx::work>("claim", impl::mode::write,
                                  [&](pqxx::work& tx) {
    claim_result out;
    corrupt.clear();
    ended.clear();
    auto fail_row = [&](const char* id, const std::string& message,
                        const std::string& what, bool unreadable) {
      exec(tx, st_corrupt,
           {id, message, d.now_param(), unreadable ? "true" : "false"});
      store_event found;
      found.kind = store_event::type::corrupt;
      found.execution_id = id;
      found.detail = fmt::format("{}; marked failed", what);
      corrupt.push_back(std::move(found));
    };
    auto rows = exec(tx, req.take_over ? st_claim : st_claim_ready, ps);
    std::vector<std::pair<std::int64_t, execution_record>> taken;
    for (const auto& row : rows) {
      if (!row[0].is_null())
        out.next_ready_at = time_of(row[0]);
      if (row[1].is_null())
        continue;
      execution_record r;
      try {
        r = decode(row, 2);
      } catch (const std::exception& e) {
        // Fail the damaged row (its id is the first decoded column) in the
        // same transaction; the other rows of the claim go on.
        fail_row(row[2].c_str(),
                 fmt::format("Corrupt stored execution: {}", e.what()),
                 e.what(), true);
        continue;
      }
      // A number out of range (written behind the store's back): the
      // claim bounded what it computed from it, the row is failed.
      if (auto problem = stored_ranges::problem(r)) {
        fail_row(row[2].c_str(), stored_ranges::invalid_message(*problem),
                 *problem, false);
        if (r.parent || r.watched)
          ended.push_back({store_event::type::finished, r.id,
                           r.parent ? r.parent->execution_id : std::string{},
                           {}, d.now()});
        continue;
      }
      taken.emplace_back(row[1].as<std::int64_t>(), std::move(r));
    }
    d.announce(tx, ended, true);
    std::sort(taken.begin(), taken.end(), [](const auto& x, const auto& y) {
      return std::tie(x.first, x.second.id) < std::tie(y.first, y.second.id);
    });
    out.claimed.reserve(taken.size());
    for (auto& [due, r] : taken)
      out.claimed.push_back(std::move(r));
    return out;
  });
  corrupt.insert(corrupt.end(), std::make_move_iterator(ended.begin()),
                 std::make_move_iterator(ended.end()));
  d.notify(std::move(corrupt));
  return result;
}

std::vector<std::string> pg_store::renew_leases(const std::string& owner,
                                                millis lease) {
  auto& d = *impl_;
  std::vector<param> ps{owner, str(std::chrono::microseconds{lease}.count()),
                        d.now_param()};
  // Each statement commits on its own: the rows renewed first are not
  // kept locked while the second waits, and the wait is only for the few
  // rows a transition holds, not behind it for all of them.
  auto step = [&](const char* statement, const std::vector<param>& args) {
    return d.run_on<pqxx::work>(
      d.lease_pool, "renew_leases", impl::mode::idempotent,
      [&](pqxx::work& tx) {
        tx.exec(impl::renewal_settings);
        return exec(tx, statement, args);
      },
      d.lease_call_patience(lease));
  };
  std::vector<std::string> renewed, held;
  const auto learned = to_micros(d.now());
  for (const auto& row : step(st_renew, ps)) {
    d.floors.remember(owner, row[2].as<std::int64_t>(), learned);
    if (!row[0].is_null())
      (row[1].as<bool>() ? renewed : held).emplace_back(row[0].c_str());
  }
  if (held.empty())
    return renewed;
  auto more = ps;
  more.emplace_back(to_array_literal(held));
  for (const auto& row : step(st_renew_held, more))
    renewed.emplace_back(row[0].c_str());
  return renewed;
}

bool pg_store::try_lead(const std::string& role, const std::string& owner,
                        millis lease) {
  auto& d = *impl_;
  std::vector<param> ps{role, owner,
                        str(std::chrono::microseconds{lease}.count()),
                        d.now_param()};
  return d.run_on<pqxx::work>(
    d.lease_pool, "try_lead", impl::mode::idempotent,
    [&](pqxx::work& tx) { return !exec(tx, st_lead, ps).empty(); },
    d.lease_call_patience(lease));
}

std::size_t pg_store::release_leases(const std::string& owner) {
  auto& d = *impl_;
  std::vector<param> ps{owner, d.now_param()};
  d.floors.forget(owner);
  return d.run_on<pqxx::work>(
    d.lease_pool, "release_leases", impl::mode::write, [&](pqxx::work& tx) {
      auto n = static_cast<std::size_t>(
        exec(tx, st_release, ps).affected_rows());
      // Tell the other nodes that the handed-back rows are claimable now.
      if (n > 0)
        d.announce(tx, {{store_event::type::work_ready, {}, {}, {}, d.now()}},
                   true);
      return n;
    });
}

std::optional<execution_record> pg_store::get(const std::string& id) {
  return impl_->run<pqxx::nontransaction>(
    "get", impl::mode::idempotent,
    [&](pqxx::nontransaction& tx) -> std::optional<execution_record> {
      auto r = exec(tx, st_get, {id});
      if (r.empty())
        return std::nullopt;
      return decode(r[0]);
    });
}

std::optional<execution_record>
pg_store::get_by_sleeping_id(const std::string& sleeping_id) {
  return impl_->run<pqxx::nontransaction>(
    "get_by_sleeping_id", impl::mode::idempotent,
    [&](pqxx::nontransaction& tx) -> std::optional<execution_record> {
      auto r = exec(tx, st_get_sleeping, {sleeping_id});
      if (r.empty())
        return std::nullopt;
      return decode(r[0]);
    });
}

std::vector<execution_record>
pg_store::children_of(const std::string& parent_id) {
  return impl_->run<pqxx::nontransaction>(
    "children_of", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      std::vector<execution_record> out;
      auto rows = exec(tx, st_children, {parent_id});
      out.reserve(rows.size());
      for (const auto& row : rows)
        out.push_back(decode(row));
      return out;
    });
}

sleeper_scan pg_store::scan_sleepers(std::size_t limit) {
  auto& d = *impl_;
  std::vector<param> ps{str(static_cast<std::int64_t>(limit)),
                        d.now_param()};
  return d.run<pqxx::nontransaction>(
    "scan_sleepers", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      sleeper_scan out;
      auto rows = exec(tx, st_scan, ps);
      for (const auto& row : rows) {
        if (!row[0].is_null())
          out.next_deadline = time_of(row[0]);
        if (!row[1].is_null())
          out.expired.push_back(decode(row, 1));
      }
      return out;
    });
}

std::optional<execution_record> pg_store::watch(const std::string& id) {
  return impl_->run<pqxx::nontransaction>(
    "watch", impl::mode::idempotent,
    [&](pqxx::nontransaction& tx) -> std::optional<execution_record> {
      auto r = exec(tx, st_watch, {id});
      if (r.empty())
        return std::nullopt;
      return decode(r[0]);
    });
}

bool pg_store::erase(const std::string& id) {
  return impl_->run<pqxx::work>("erase", impl::mode::write,
                                [&](pqxx::work& tx) {
                                  return exec(tx, st_erase, {id})
                                           .affected_rows()
                                         > 0;
                                });
}

std::uint64_t pg_store::subscribe(store_listener listener) {
  auto& d = *impl_;
  std::uint64_t token = 0;
  {
    std::lock_guard guard{d.listeners_mutex};
    token = d.next_token++;
    d.listeners.emplace_back(token, std::move(listener));
    d.listener_count.store(d.listeners.size());
  }
  // Outside listeners_mutex: the listener thread's callback takes it.
  d.update_inbound();
  return token;
}

void pg_store::unsubscribe(std::uint64_t token) {
  auto& d = *impl_;
  {
    std::lock_guard guard{d.listeners_mutex};
    std::erase_if(d.listeners, [token](const auto& x) {
      return x.first == token;
    });
    d.listener_count.store(d.listeners.size());
  }
  d.update_inbound();
}

std::shared_ptr<durable::store> postgres(pg_options opts) {
  return std::make_shared<pg_store>(std::move(opts));
}

} // namespace durable::storage::pg
