// The PostgreSQL ceiling (see ceilings.hpp): the insert, claim and complete
// statements of the PostgreSQL store (storage/pg/pg_store.cpp) reduced to
// what one batch needs, on the store's own table, on one connection and on
// several at once.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pqxx/pqxx>

#include "ceilings.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"

namespace durable::bench {

namespace {

// The store inserts at most this many rows per statement (insert_chunk).
constexpr std::size_t insert_chunk = 500;
constexpr std::string_view now_us = "(extract(epoch from now()) * "
                                    "1000000)::bigint";
constexpr std::int64_t lease_us = 6'000'000;

/// A text[] literal of plain values (ids and numbers need no escaping
/// beyond quoting).
std::string array_literal(const std::vector<std::string>& xs) {
  std::string out = "{";
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    out += xs[i];
    out += '"';
  }
  out += '}';
  return out;
}

/// Drops the ceiling's schema however the measurement ends.
struct schema_dropper {
  const std::string& url;
  const std::string& schema;

  ~schema_dropper() {
    try {
      pqxx::connection c{url};
      pqxx::nontransaction tx{c};
      tx.exec("DROP SCHEMA IF EXISTS " + storage::pg::quote_ident(schema)
              + " CASCADE");
    } catch (const std::exception&) {
      // Best effort: a leftover bench_* schema is harmless.
    }
  }
};

/// Prepares the ceiling's insert, claim and complete on `c`, for the table
/// `t` (schema-qualified).
void prepare_cycle(pqxx::connection& c, const std::string& t) {
  c.prepare(
    "insert",
    fmt::format("INSERT INTO {t} (id, task_id, kind, root_task_id, root_id, "
                "retry_max_attempts, retry_base_delay_ms, retry_multiplier, "
                "retry_jitter, sleep_before_run_ms, timeout_ms, input, status, "
                "version, attempt, recoveries, start_at, created_at, "
                "updated_at, children, step, watched) "
                "SELECT v.id, 'ceiling', 0, 'ceiling', v.id, 0, 0, 1, 0, 0, "
                "60000, v.input, 'ready', 0, 0, 0, {now}, {now}, {now}, '[]', "
                "0, false FROM unnest($1::text[], $2::text[]) AS v(id, input) "
                "ON CONFLICT DO NOTHING",
                fmt::arg("t", t), fmt::arg("now", now_us)));
  c.prepare(
    "claim",
    fmt::format("WITH c AS (SELECT e.id FROM {t} e WHERE e.task_id = "
                "'ceiling' AND e.status = 'ready' AND e.start_at <= {now} "
                "ORDER BY e.start_at, e.id LIMIT $1::bigint "
                "FOR UPDATE OF e SKIP LOCKED) "
                "UPDATE {t} e SET status = 'running', started_at = {now}, "
                "expires_at = {now} + e.timeout_ms * 1000, owner = $2, "
                "lease_expires_at = {now} + $3::bigint, version = e.version + "
                "1, updated_at = {now} FROM c WHERE e.id = c.id RETURNING e.*",
                fmt::arg("t", t), fmt::arg("now", now_us)));
  c.prepare(
    "complete",
    fmt::format("UPDATE {t} e SET status = 'completed', output = v.output, "
                "finished_at = {now}, closed_at = {now}, updated_at = {now}, "
                "owner = NULL, lease_expires_at = NULL, version = e.version + "
                "1 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS "
                "v(id, version, output) WHERE e.id = v.id AND e.version = "
                "v.version",
                fmt::arg("t", t), fmt::arg("now", now_us)));
}

/// Inserts the rows `first`..`last` (ids `c<tag><n>`) in `tx`, in
/// statements of at most insert_chunk rows, as the store does.
void insert_rows(pqxx::work& tx, std::size_t first, std::size_t last,
                 std::string_view tag) {
  for (auto done = first; done < last;) {
    auto chunk_end = std::min(last, done + insert_chunk);
    std::vector<std::string> ids, inputs;
    for (auto i = done; i < chunk_end; ++i) {
      ids.push_back(fmt::format("c{}{:012}", tag, i));
      inputs.push_back(fmt::format("{}", i));
    }
    tx.exec_prepared("insert", array_literal(ids), array_literal(inputs));
    done = chunk_end;
  }
}

/// Claims up to `claim_batch` ready rows for `owner` (one transaction) and
/// completes exactly those (another); returns how many it completed.
std::size_t claim_and_complete(pqxx::connection& c, std::size_t claim_batch,
                               const std::string& owner) {
  std::vector<std::string> ids, versions, outputs;
  {
    pqxx::work tx{c};
    auto rows = tx.exec_prepared("claim", claim_batch, owner, lease_us);
    for (const auto& row : rows) {
      ids.push_back(row["id"].c_str());
      versions.push_back(row["version"].c_str());
      outputs.push_back(row["input"].c_str());
    }
    tx.commit();
  }
  if (ids.empty())
    return 0;
  pqxx::work tx{c};
  auto r = tx.exec_prepared("complete", array_literal(ids),
                            array_literal(versions), array_literal(outputs));
  tx.commit();
  return static_cast<std::size_t>(r.affected_rows());
}

/// interleaved_cycle() with `connections` connections on `table`, emptied
/// first. Returns executions per second.
double concurrent_cycle(const std::string& url, const std::string& table,
                        std::size_t executions, std::size_t claim_batch,
                        std::size_t connections) {
  {
    pqxx::connection c{url};
    pqxx::nontransaction tx{c};
    tx.exec("TRUNCATE " + table);
  }
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (std::size_t i = 0; i < connections; ++i) {
    conns.push_back(std::make_unique<pqxx::connection>(url));
    prepare_cycle(*conns.back(), table);
  }
  return interleaved_cycle(
    "PostgreSQL", executions, claim_batch, connections,
    [&](std::size_t k, std::size_t first, std::size_t last,
        const std::string& tag) {
      pqxx::work tx{*conns[k]};
      insert_rows(tx, first, last, tag);
      tx.commit();
    },
    [&](std::size_t k, std::size_t batch, const std::string& owner) {
      return claim_and_complete(*conns[k], batch, owner);
    });
}

} // namespace

ceiling_result pg_ceiling(const std::string& url, const std::string& schema,
                          std::size_t executions, std::size_t insert_batch,
                          std::size_t claim_batch,
                          const std::vector<std::size_t>& connections) {
  // The store's migrations make the table, its indexes and its autovacuum
  // settings exactly as the engine gets them.
  schema_dropper dropper{url, schema};
  storage::pg::pg_options opts;
  opts.url = url;
  opts.pool_size = 1;
  opts.schema = schema;
  storage::pg::postgres(opts);
  const auto t = storage::pg::quote_ident(schema) + ".executions";
  pqxx::connection c{url};
  prepare_cycle(c, t);
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < executions;) {
    pqxx::work tx{c};
    auto end = std::min(executions, done + insert_batch);
    insert_rows(tx, done, end, "");
    done = end;
    tx.commit();
  }
  const double insert_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  std::size_t completed = 0;
  std::size_t claims = 0;
  while (auto done = claim_and_complete(c, claim_batch, "ceiling-owner")) {
    completed += done;
    ++claims;
  }
  const double cycle_s = seconds_since(t1);
  auto single = cycle_result("PostgreSQL", "", executions, completed, insert_s,
                             cycle_s, insert_batch, claim_batch, claims);
  single.details["transactions"] = (executions + insert_batch - 1)
                                     / insert_batch
                                   + 2 * claims + 1;
  // The ceiling: the best of the concurrent forms (and of the one above).
  return best_ceiling_form(
    fmt::format("PostgreSQL: the best of {} concurrent connections, each "
                "inserting {} rows per transaction then claiming (FOR UPDATE "
                "SKIP LOCKED) and completing a batch, and of one connection "
                "inserting every row first, on the store's table",
                fmt::join(connections, ", "), claim_batch),
    executions, claim_batch, connections,
    [&](std::size_t n) {
      return concurrent_cycle(url, t, executions, claim_batch, n);
    },
    single);
}

} // namespace durable::bench
