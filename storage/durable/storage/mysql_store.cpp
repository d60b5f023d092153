#include "durable/storage/mysql_store.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/row_codec.hpp"
#include "durable/storage/mysql/schema.hpp"
#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql/transaction.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

// The MySQL store's public class: connecting, the calls that are one
// statement or a few, and the listeners. The rest is in mysql/ (its
// README.md): apply in batch_apply.cpp, list and count_by_status in
// listing.cpp, prune in prune.cpp, the node registry in registry.cpp.

namespace durable::storage {

namespace {

/// Due time of a claim candidate; a missing lease is due at once.
constexpr std::int64_t no_lease = std::numeric_limits<std::int64_t>::min();

} // namespace

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
  try {
    std::lock_guard guard{main_.mutex};
    mysql_detail::migrate(conn(main_));
  } catch (const mysql_detail::mysql_error& e) {
    throw store_error(e.failure(), fmt::format("mysql store open ({}): {}",
                                               redacted_url(), e.what()));
  }
}

mysql_store::~mysql_store() = default;

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
  std::lock_guard guard{main_.mutex};
  try {
    conn(main_).exec(sql);
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
        if (auto id = tx.id_where(mysql_detail::id_by_key_sql,
                                  *r.idempotency_key)) {
          auto task = tx.id_where(mysql_detail::task_by_id_sql, *id);
          out.push_back(
            {kind::duplicate_key, std::move(*id), task.value_or("")});
          continue;
        }
      if (tx.id_where(mysql_detail::id_by_id_sql, r.id)) {
        out.push_back({kind::duplicate_id, r.id});
        continue;
      }
      if (r.sleeping_id)
        if (auto id = tx.id_where(mysql_detail::id_by_sleeping_sql,
                                  *r.sleeping_id)) {
          out.push_back({kind::duplicate_sleeping_id, std::move(*id)});
          continue;
        }
      try {
        tx.insert(r);
      } catch (const mysql_detail::mysql_error& e) {
        // Another node inserted the same id, key or sleeping id since the
        // checks above read: run the call again, which finds it.
        if (!e.is_duplicate())
          throw;
        throw mysql_detail::mysql_error(1213, false,
                                        fmt::format("insert raced another "
                                                    "writer: {}",
                                                    e.what()));
      }
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

claim_result mysql_store::claim(const claim_request& req) {
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
          auto q = tx.prepare(mysql_detail::ready_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        if (!req.take_over)
          continue;
        {
          auto q = tx.prepare(mysql_detail::expired_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        {
          auto q = tx.prepare(mysql_detail::unleased_sql);
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
      auto q = tx.prepare(mysql_detail::next_ready_sql);
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
    auto q = tx.prepare(mysql_detail::release_leases_sql);
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
  return run("get_by_sleeping_id", false,
             [&](txn& tx) -> std::optional<execution_record> {
               auto q = tx.prepare(mysql_detail::by_sleeping_id_sql());
               q.bind(1, sleeping_id);
               auto found = tx.rows(q);
               if (found.empty())
                 return std::nullopt;
               return std::move(found.front());
             });
}

std::vector<execution_record>
mysql_store::children_of(const std::string& parent_id) {
  auto out = run("children_of", false, [&](txn& tx) {
    auto q = tx.prepare(mysql_detail::children_sql());
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

sleeper_scan mysql_store::scan_sleepers(std::size_t limit) {
  return run("scan_sleepers", false, [&](txn& tx) {
    sleeper_scan res;
    const auto now = tx.now();
    if (limit > 0) {
      auto q = tx.prepare(mysql_detail::sleepers_due_sql());
      q.bind(1, now).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(
                               limit, std::numeric_limits<int>::max())));
      for (auto& r : tx.rows(q))
        // A repaired row is no longer a live sleeper.
        if (store_rules::is_live_sleeper(r))
          res.expired.push_back(std::move(r));
    }
    auto q = tx.prepare(mysql_detail::next_deadline_sql);
    q.bind(1, now);
    if (q.step() && !q.is_null(0))
      res.next_deadline = from_micros(q.int64(0));
    return res;
  });
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> mysql_store::watch(const std::string& id) {
  return run("watch", true, [&](txn& tx) {
    auto q = tx.prepare(mysql_detail::watch_sql);
    q.bind(1, id);
    q.run();
    return tx.row_by_id(id);
  });
}

bool mysql_store::erase(const std::string& id) {
  return run("erase", true, [&](txn& tx) {
    auto q = tx.prepare(mysql_detail::erase_sql);
    q.bind(1, id);
    return q.run() == 1;
  });
}

// -- listeners ----------------------------------------------------------------

std::uint64_t mysql_store::subscribe(store_listener listener) {
  return listeners_.subscribe(std::move(listener));
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
