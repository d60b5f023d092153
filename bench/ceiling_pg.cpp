// The PostgreSQL ceiling (see ceilings.hpp): the insert, claim and complete
// statements of the PostgreSQL store (storage/pg/pg_store.cpp) reduced to
// what one batch needs, on the store's own table.
#include <chrono>
#include <stdexcept>

#include <fmt/format.h>
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

} // namespace

ceiling_result pg_ceiling(const std::string& url, const std::string& schema,
                          std::size_t executions, std::size_t insert_batch,
                          std::size_t claim_batch) {
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
  auto t0 = std::chrono::steady_clock::now();
  for (std::size_t done = 0; done < executions;) {
    pqxx::work tx{c};
    auto end = std::min(executions, done + insert_batch);
    for (; done < end;) {
      auto chunk_end = std::min(end, done + insert_chunk);
      std::vector<std::string> ids, inputs;
      for (auto i = done; i < chunk_end; ++i) {
        ids.push_back(fmt::format("c{:012}", i));
        inputs.push_back(fmt::format("{}", i));
      }
      tx.exec_prepared("insert", array_literal(ids), array_literal(inputs));
      done = chunk_end;
    }
    tx.commit();
  }
  const double insert_s = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  std::size_t completed = 0;
  std::size_t claims = 0;
  for (;;) {
    std::vector<std::string> ids, versions, outputs;
    {
      pqxx::work tx{c};
      auto rows = tx.exec_prepared("claim", claim_batch, "ceiling-owner",
                                   lease_us);
      for (const auto& row : rows) {
        ids.push_back(row["id"].c_str());
        versions.push_back(row["version"].c_str());
        outputs.push_back(row["input"].c_str());
      }
      tx.commit();
    }
    if (ids.empty())
      break;
    ++claims;
    pqxx::work tx{c};
    auto r = tx.exec_prepared("complete", array_literal(ids),
                              array_literal(versions), array_literal(outputs));
    tx.commit();
    completed += static_cast<std::size_t>(r.affected_rows());
  }
  const double cycle_s = seconds_since(t1);
  auto out = cycle_result(
    "PostgreSQL",
    "PostgreSQL: batched insert, batched claim (FOR UPDATE SKIP "
    "LOCKED) and batched complete on the store's table",
    executions, completed, insert_s, cycle_s, insert_batch, claim_batch,
    claims);
  out.details["transactions"] = (executions + insert_batch - 1) / insert_batch
                                + 2 * claims + 1;
  return out;
}

} // namespace durable::bench
