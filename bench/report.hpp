#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ceilings.hpp"
#include "settings.hpp"
#include "stats.hpp"
#include "workloads.hpp"

/// What a run reports: one JSON record (appended to `--json FILE`, one
/// line per run) and one human-readable table on stdout.
namespace durable::bench {

/// Everything measured in one run.
struct run_report {
  settings options;
  std::size_t rounds = 0;
  std::size_t enqueued = 0;   ///< top-level executions enqueued
  double enqueue_seconds = 0; ///< time spent in enqueue calls
  double seconds = 0;         ///< first enqueue -> last finished_at
  row_stats rows;
  std::optional<ceiling_result> ceiling;
  std::size_t peak_rss_bytes = 0;
  /// hold workload: RSS with the rows stored but none running, and with
  /// every execution running (see durable_bench.cpp for the method).
  std::optional<std::size_t> rss_idle_bytes;
  std::optional<std::size_t> rss_in_flight_bytes;
  /// PostgreSQL: commits of the database during the run (all nodes).
  std::optional<std::int64_t> pg_commits;
  nlohmann::json pg_settings;
  /// PostgreSQL: the run's costliest statements (pg_stat_statements).
  nlohmann::json pg_statements;
  /// PostgreSQL, sustained runs: what changed per interval (pg_trend.hpp).
  nlohmann::json pg_trend;
  /// Runs with retention: what it removed during the run (counted in
  /// rows.rows and rows.top_level).
  std::optional<prune_result> pruned;
  validation checked;
  bool validated = false;
};

/// The JSON record of a run: workload, store, nodes, executions, seconds,
/// executions_per_s, ceiling_per_s, latency_ms, peak_rss_bytes and the
/// rest (see bench/README.md for every field).
nlohmann::json to_json(const run_report& r);

/// Appends `record` as one line to `path`; throws std::runtime_error if the
/// file cannot be written.
void append_json(const std::string& path, const nlohmann::json& record);

/// Reads every record of a JSON-lines file (unreadable lines skipped).
std::vector<nlohmann::json> read_json_lines(const std::string& path);

/// Prints the human table of `records` on stdout.
void print_table(const std::vector<nlohmann::json>& records);

} // namespace durable::bench
