#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "settings.hpp"
#include "stores.hpp"

/// The ceiling of a run: what the layer under the engine sustains for the
/// same number of executions when the harness drives it directly, with no
/// engine around it, measured in the same process just before the run.
/// Every run reports its rate as a percentage of this figure.
namespace durable::bench {

struct ceiling_result {
  /// How the figure was measured, in a few words.
  std::string method;
  std::size_t executions = 0;
  double seconds = 0;
  double per_s = 0;
  /// Phase rates and parameters.
  nlohmann::json details = nlohmann::json::object();
};

/// Bare CAF: a dispatcher actor spawns one actor per execution and
/// exchanges two messages with it (run, done), keeping at most `window`
/// in flight, on a scheduler of `threads` threads.
ceiling_result caf_ceiling(std::size_t executions, std::size_t window,
                           std::size_t threads);

/// PostgreSQL on the PostgreSQL store's own table (a sibling schema that
/// the store's migrations create, dropped after), every transaction
/// durable. The ceiling is the best of `connections` (e.g. 1, 2, 4, 8)
/// concurrent connections, each inserting `claim_batch` rows per
/// transaction and then claiming (`FOR UPDATE SKIP LOCKED`) and completing
/// a batch, so that new rows arrive while others complete, as in the
/// engine; `details` has each count's rate. The form measured before
/// (one connection, every insert first, then claim and complete batch by
/// batch) is kept in `details` as `single_connection_per_s`, and is the
/// ceiling when it is faster (small runs); `best_form` says which won.
ceiling_result pg_ceiling(const std::string& url, const std::string& schema,
                          std::size_t executions, std::size_t insert_batch,
                          std::size_t claim_batch,
                          const std::vector<std::size_t>& connections);

/// MySQL/MariaDB on the MySQL store's own table (the database `database`
/// on the server of `url`, which the store's migrations fill, dropped
/// after), every transaction durable: the same concurrent form as
/// pg_ceiling, with the statements the MySQL store uses (one INSERT per
/// row; a claim's `SELECT … FOR UPDATE SKIP LOCKED` on executions_ready
/// then a version-guarded UPDATE per row; a completion's `SELECT … IN (…)
/// ORDER BY id FOR UPDATE` then a guarded UPDATE per row). Each count's
/// rate and the single-connection form are in `details`, as for
/// PostgreSQL.
ceiling_result mysql_ceiling(const std::string& url,
                             const std::string& database,
                             std::size_t executions, std::size_t insert_batch,
                             std::size_t claim_batch,
                             const std::vector<std::size_t>& connections);

/// SQLite: the same cycle on a file with the SQLite store's table and
/// pragmas (WAL, synchronous FULL unless `normal_sync`), one row per
/// statement as the store writes them.
ceiling_result sqlite_ceiling(const std::string& path, bool normal_sync,
                              std::size_t executions, std::size_t insert_batch,
                              std::size_t claim_batch);

/// What one insert/claim/complete cycle measured, as a ceiling_result:
/// `phase_seconds` are the insert and the claim/complete phases. Throws
/// std::runtime_error naming `store` if not every row completed.
ceiling_result cycle_result(const char* store, std::string method,
                            std::size_t executions, std::size_t completed,
                            double insert_seconds, double cycle_seconds,
                            std::size_t insert_batch, std::size_t claim_batch,
                            std::size_t claims);

/// The concurrent form of the PostgreSQL and MySQL ceilings: `connections`
/// workers at once on an empty table, worker k inserting its share of
/// `executions` rows `claim_batch` at a time (`insert(k, first, last,
/// tag)`: rows [first, last), ids tagged `tag`) and, after each insert,
/// claiming and completing a batch of any worker's rows (`claim(k, batch,
/// owner)`, returning how many), until every row completed. New rows
/// arrive while others complete, as in the engine, whose inserts, claims
/// and commits overlap. Returns executions per second; throws
/// std::runtime_error naming `store` if a worker failed or rows were left.
double interleaved_cycle(
  const char* store, std::size_t executions, std::size_t claim_batch,
  std::size_t connections,
  const std::function<void(std::size_t, std::size_t, std::size_t,
                           const std::string&)>& insert,
  const std::function<std::size_t(std::size_t, std::size_t,
                                  const std::string&)>& claim);

/// The ceiling of a server store: the best of interleaved_cycle() with
/// each count of `connections` (`concurrent(n)` runs it with n) and of the
/// single-connection form `single`, with every rate in `details`.
ceiling_result
best_ceiling_form(std::string method, std::size_t executions,
                  std::size_t claim_batch,
                  const std::vector<std::size_t>& connections,
                  const std::function<double(std::size_t)>& concurrent,
                  const ceiling_result& single);

/// Prints on stderr the rate of each form a ceiling tried (the PostgreSQL
/// and MySQL ceilings' connection counts and their single-connection
/// form), when it tried several.
void print_ceiling_forms(const ceiling_result& c);

/// Seconds since `t0` (steady clock); the harness times its phases with it.
double seconds_since(std::chrono::steady_clock::time_point t0);

/// The ceiling that belongs to `place`'s store, for `executions` rows,
/// measured in a forked child process (no shared heap, threads or
/// allocator settings with the run). Call it before starting any thread.
/// Throws std::runtime_error with the child's error.
ceiling_result measure_ceiling(const settings& s, const store_place& place,
                               std::size_t executions);

} // namespace durable::bench
