// The MySQL/MariaDB ceiling (see ceilings.hpp): the insert, claim and
// complete statements of the MySQL store (storage/sql/statements.hpp and
// apply.hpp with mysql/statements.cpp's dialect) reduced to the columns one
// batch needs, on the store's own table, on one connection and on several
// at once, as ceiling_pg.cpp does for PostgreSQL.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ceilings.hpp"
#include "stores.hpp"

#ifdef DURABLE_WITH_MYSQL
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#endif

namespace durable::bench {

#ifdef DURABLE_WITH_MYSQL

namespace {

namespace detail = storage::mysql_detail;

constexpr std::int64_t lease_us = 6'000'000;
constexpr std::int64_t timeout_us = 60'000'000;

// Statuses as the store writes them (durable/status.hpp).
constexpr int ready = 0;
constexpr int running = 1;
constexpr int completed = 4;

// One INSERT per row, as the store's insert_sql (the columns a row needs;
// the store also checks the key, the id and the sleeping id first).
constexpr const char* insert_sql
  = "INSERT INTO executions (id, task_id, kind, root_task_id, "
    "root_execution_id, retry, sleep_before_run_ms, timeout_ms, input, "
    "status, version, attempt, recoveries, start_at, created_at, updated_at, "
    "children, step, watched) VALUES (?1, 'ceiling', 0, 'ceiling', ?1, '{}', "
    "0, 60000, ?2, 0, 0, 0, 0, ?3, ?3, ?3, '[]', 0, 0)";
// The store's ready_sql (executions_ready), with the version and input the
// completion needs (the store reads each row whole by id instead).
constexpr const char* claim_select_sql
  = "SELECT start_at, id, version, input FROM executions "
    "WHERE status = 0 AND task_id = 'ceiling' AND start_at <= ?1 "
    "ORDER BY start_at, id LIMIT ?2 FOR UPDATE SKIP LOCKED";
// The store's guarded_update_sql, reduced to what a claim changes.
constexpr const char* claim_update_sql
  = "UPDATE executions SET status = 1, started_at = ?2, expires_at = ?3, "
    "owner = ?4, lease_expires_at = ?5, version = ?6, updated_at = ?2 "
    "WHERE id = ?1 AND version = ?7";
// ... and to what a completion changes.
constexpr const char* complete_update_sql
  = "UPDATE executions SET status = 4, output = ?2, finished_at = ?3, "
    "closed_at = ?3, updated_at = ?3, owner = NULL, lease_expires_at = NULL, "
    "version = ?4 WHERE id = ?1 AND version = ?5";

static_assert(ready == 0 && running == 1 && completed == 4,
              "the statements above spell these statuses out");

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Runs `fn` in one transaction on `c` and commits; a deadlock or a lock
/// wait timeout rolls back and runs it again, as the store does
/// (max_conflict_retries).
template <class F>
auto in_transaction(detail::connection& c, F&& fn) {
  constexpr int max_attempts = 10;
  for (int attempt = 1;; ++attempt) {
    try {
      c.exec("START TRANSACTION");
      auto result = fn();
      c.commit();
      return result;
    } catch (const detail::mysql_error& e) {
      c.rollback_quietly();
      if (e.failure() != store_failure::conflict || attempt == max_attempts)
        throw;
    }
  }
}

/// Drops the ceiling's database however the measurement ends.
struct database_dropper {
  const std::string& url;
  const std::string& database;

  ~database_dropper() {
    try {
      mysql_admin(url, "DROP DATABASE IF EXISTS `" + database + "`");
    } catch (const std::exception&) {
      // Best effort: a leftover bench_* database is harmless.
    }
  }
};

/// A connection to the ceiling's database, with the store's session
/// settings (READ COMMITTED, found rows, utf8mb4).
std::unique_ptr<detail::connection> connect(const std::string& url) {
  return std::make_unique<detail::connection>(detail::parse_url(url),
                                              storage::mysql_options{});
}

/// Inserts the rows `first`..`last` (ids `c<tag><n>`) in one transaction,
/// one statement per row, as the store does.
void insert_rows(detail::connection& c, std::size_t first, std::size_t last,
                 const std::string& tag) {
  in_transaction(c, [&] {
    const auto now = now_us();
    for (auto i = first; i < last; ++i) {
      auto q = c.prepare(insert_sql);
      q.bind(1, fmt::format("c{}{:012}", tag, i))
        .bind(2, std::to_string(i))
        .bind(3, now);
      q.run();
    }
    return true;
  });
}

/// Claims up to `claim_batch` ready rows for `owner` (one transaction) and
/// completes exactly those (another); returns how many it completed.
std::size_t claim_and_complete(detail::connection& c, std::size_t claim_batch,
                               const std::string& owner) {
  struct claimed {
    std::string id;
    std::int64_t version;
    std::string input;
  };
  auto rows = in_transaction(c, [&] {
    std::vector<claimed> out;
    const auto now = now_us();
    {
      auto q = c.prepare(claim_select_sql);
      q.bind(1, now).bind(2, static_cast<std::int64_t>(claim_batch));
      while (q.step())
        out.push_back({q.text(1), q.int64(2), q.text(3)});
    }
    for (auto& r : out) {
      auto q = c.prepare(claim_update_sql);
      q.bind(1, r.id)
        .bind(2, now)
        .bind(3, now + timeout_us)
        .bind(4, owner)
        .bind(5, now + lease_us)
        .bind(6, r.version + 1)
        .bind(7, r.version);
      if (q.run() != 1)
        throw std::runtime_error("a claimed row changed under its lock");
      ++r.version;
    }
    return out;
  });
  if (rows.empty())
    return 0;
  // The completion: the batch locked in id order first, as apply() does.
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::string lock_sql = "SELECT id FROM executions WHERE id IN (";
  for (std::size_t i = 0; i < rows.size(); ++i)
    lock_sql += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 1);
  lock_sql += ") ORDER BY id FOR UPDATE";
  return in_transaction(c, [&] {
    const auto now = now_us();
    if (rows.size() > 1) {
      auto q = c.prepare(lock_sql);
      for (std::size_t i = 0; i < rows.size(); ++i)
        q.bind(static_cast<int>(i + 1), rows[i].id);
      while (q.step()) {
      }
    }
    std::size_t done = 0;
    for (const auto& r : rows) {
      auto q = c.prepare(complete_update_sql);
      q.bind(1, r.id)
        .bind(2, r.input)
        .bind(3, now)
        .bind(4, r.version + 1)
        .bind(5, r.version);
      done += q.run();
    }
    return done;
  });
}

/// interleaved_cycle() with `connections` connections on the store's
/// table, emptied first. Deadlocks and lock wait timeouts are retried, as
/// the store retries them. Returns executions per second.
double concurrent_cycle(const std::string& url, std::size_t executions,
                        std::size_t claim_batch, std::size_t connections) {
  connect(url)->exec("TRUNCATE TABLE executions");
  std::vector<std::unique_ptr<detail::connection>> conns;
  for (std::size_t i = 0; i < connections; ++i)
    conns.push_back(connect(url));
  return interleaved_cycle(
    "MySQL", executions, claim_batch, connections,
    [&](std::size_t k, std::size_t first, std::size_t last,
        const std::string& tag) { insert_rows(*conns[k], first, last, tag); },
    [&](std::size_t k, std::size_t batch, const std::string& owner) {
      return claim_and_complete(*conns[k], batch, owner);
    });
}

} // namespace

ceiling_result mysql_ceiling(const std::string& url,
                             const std::string& database,
                             std::size_t executions, std::size_t insert_batch,
                             std::size_t claim_batch,
                             const std::vector<std::size_t>& connections) {
  mysql_admin(url, "CREATE DATABASE IF NOT EXISTS `" + database
                     + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  database_dropper dropper{url, database};
  const auto db_url = mysql_url_for(url, database);
  // The store's migrations make the table and its indexes exactly as the
  // engine gets them.
  {
    storage::mysql_options opts;
    opts.url = db_url;
    storage::mysql(opts);
  }
  auto c = connect(db_url);
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < executions;) {
    auto end = std::min(executions, done + insert_batch);
    insert_rows(*c, done, end, "");
    done = end;
  }
  const double insert_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  std::size_t completed_rows = 0;
  std::size_t claims = 0;
  while (auto done = claim_and_complete(*c, claim_batch, "ceiling-owner")) {
    completed_rows += done;
    ++claims;
  }
  const double cycle_s = seconds_since(t1);
  c.reset();
  auto single = cycle_result("MySQL", "", executions, completed_rows, insert_s,
                             cycle_s, insert_batch, claim_batch, claims);
  single.details["transactions"] = (executions + insert_batch - 1)
                                     / insert_batch
                                   + 2 * claims + 1;
  return best_ceiling_form(
    fmt::format("MySQL: the best of {} concurrent connections, each "
                "inserting {} rows per transaction (one statement per row) "
                "then claiming (FOR UPDATE SKIP LOCKED) and completing a "
                "batch, and of one connection inserting every row first, on "
                "the store's table",
                fmt::join(connections, ", "), claim_batch),
    executions, claim_batch, connections,
    [&](std::size_t n) {
      return concurrent_cycle(db_url, executions, claim_batch, n);
    },
    single);
}

#else

ceiling_result mysql_ceiling(const std::string&, const std::string&,
                             std::size_t, std::size_t, std::size_t,
                             const std::vector<std::size_t>&) {
  throw std::runtime_error("this durable-bench was built without the MySQL "
                           "store");
}

#endif

} // namespace durable::bench
