#include "durable/storage/pg/pg_store.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/ids.hpp"
#include "durable/storage/pg/error_mapping.hpp"
#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::storage::pg {

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace

// -- impl ---------------------------------------------------------------------

pg_store::impl::impl(pg_options o)
  : opts(std::move(o)),
    url(resolve_url(opts)),
    target(url.empty() ? std::string{"the libpq default server (PGHOST, "
                                     "PGPORT, PGDATABASE)"}
                       : redact(url)),
    table(quote_ident(opts.schema) + ".executions"),
    pool(with_keepalives(url, opts),
         std::clamp<std::size_t>(opts.pool_size, 1, 64),
         [this](pqxx::connection& c) { prepare(c); }),
    lease_pool(
      with_keepalives(url, opts), 1,
      [this](pqxx::connection& c) {
        prepare(c, {st_renew, st_renew_held, st_lead, st_release, st_notify});
      }),
    sender_id(make_incarnation_id()),
    channel(notification_channel(opts.schema)) {
  build_statements();
}

timestamp pg_store::impl::now() {
  if (opts.clock)
    return opts.clock();
  return system_now() + std::chrono::microseconds{offset_us.load()};
}

void pg_store::impl::refresh_offset(pqxx::connection_base& c) noexcept {
  const auto age = steady_ns() - offset_measured_ns.load();
  if (age <= std::chrono::nanoseconds{opts.clock_refresh}.count()
      || refreshing.exchange(true))
    return;
  // Only one call refreshes at a time; the others keep the old offset.
  try {
    measure_offset(c);
  } catch (...) {
    // Keep the old offset; the connection's own use reports what broke.
  }
  refreshing.store(false);
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
  const bool wanted = opts.listen && !listeners.empty();
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
    throw durable::error(
      fmt::format("PostgreSQL store: cannot open schema {} on {}: {}",
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
  auto result = d.run<pqxx::work>(
    "claim", impl::mode::write, [&](pqxx::work& tx) {
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
      // Columns: the next ready time, then per claimed row its due time,
      // whether it was taken over from a lost owner, and the row.
      struct taken_row {
        std::int64_t due;
        bool took;
        execution_record r;
      };
      std::vector<taken_row> taken;
      for (const auto& row : rows) {
        if (!row[0].is_null())
          out.next_ready_at = time_of(row[0]);
        if (row[1].is_null())
          continue;
        execution_record r;
        try {
          r = decode(row, 3);
        } catch (const std::exception& e) {
          // Fail the damaged row (its id is the first decoded column) in the
          // same transaction; the other rows of the claim go on.
          fail_row(row[3].c_str(),
                   fmt::format("Corrupt stored execution: {}", e.what()),
                   e.what(), true);
          continue;
        }
        // A number out of range (written behind the store's back): the
        // claim bounded what it computed from it, the row is failed.
        if (auto problem = stored_ranges::problem(r)) {
          fail_row(row[3].c_str(), stored_ranges::invalid_message(*problem),
                   *problem, false);
          if (r.parent || r.watched)
            ended.push_back({store_event::type::finished,
                             r.id,
                             r.parent ? r.parent->execution_id : std::string{},
                             {},
                             d.now()});
          continue;
        }
        taken.push_back(
          {row[1].as<std::int64_t>(), row[2].as<bool>(false), std::move(r)});
      }
      d.announce(tx, ended, true);
      std::sort(taken.begin(), taken.end(), [](const auto& x, const auto& y) {
        return std::tie(x.due, x.r.id) < std::tie(y.due, y.r.id);
      });
      out.claimed.reserve(taken.size());
      for (auto& t : taken) {
        if (t.took)
          out.taken_over.push_back(out.claimed.size());
        out.claimed.push_back(std::move(t.r));
      }
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
  std::vector<param> ps{
    role, owner, str(std::chrono::microseconds{lease}.count()), d.now_param()};
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
  std::vector<param> ps{str(static_cast<std::int64_t>(limit)), d.now_param()};
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
  return impl_->run<pqxx::work>(
    "watch", impl::mode::idempotent,
    [&](pqxx::work& tx) -> std::optional<execution_record> {
      tx.exec(watch_settings);
      auto r = exec(tx, st_watch, {id});
      if (r.empty())
        return std::nullopt;
      return decode(r[0]);
    });
}

bool pg_store::erase(const std::string& id) {
  return impl_->run<pqxx::work>(
    "erase", impl::mode::write, [&](pqxx::work& tx) {
      return exec(tx, st_erase, {id}).affected_rows() > 0;
    });
}

std::uint64_t pg_store::subscribe(store_listener listener) {
  auto& d = *impl_;
  auto token = d.listeners.subscribe(std::move(listener));
  // Not while notifying: the listener thread's callback notifies.
  d.update_inbound();
  return token;
}

void pg_store::unsubscribe(std::uint64_t token) {
  auto& d = *impl_;
  d.listeners.unsubscribe(token);
  d.update_inbound();
}

std::shared_ptr<durable::store> postgres(pg_options opts) {
  return std::make_shared<pg_store>(std::move(opts));
}

} // namespace durable::storage::pg
