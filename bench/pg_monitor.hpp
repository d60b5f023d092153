#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace durable::bench {

/// A side connection to the run's PostgreSQL database that reads what the
/// server counted: committed transactions (pg_stat_database.xact_commit)
/// and finished rows of the run's schema (progress when other processes
/// run executions too).
///
/// Its own queries commit too; commits() subtracts them, so the delta of
/// two readings counts only other sessions' commits. On a shared server
/// that includes other users' commits: measure on a server of your own.
///
/// Threading: one thread at a time.
class pg_monitor {
public:
  pg_monitor(const std::string& url, const std::string& schema);
  ~pg_monitor();

  pg_monitor(const pg_monitor&) = delete;
  pg_monitor& operator=(const pg_monitor&) = delete;

  /// Commits of the database so far, excluding this monitor's own.
  /// Statistics reach the view when a backend is idle or disconnects, so
  /// read it after the sessions of interest closed.
  std::int64_t commits();

  /// Rows of the schema's executions table with a finished_at.
  std::size_t finished_rows();

  /// The statements of the run's schema that took the most time (exec +
  /// plan), from pg_stat_statements: `[{calls, exec_ms, plan_ms, rows,
  /// query}]`, at most `limit`. Null when the extension is not installed
  /// in the database (it needs `shared_preload_libraries`).
  nlohmann::json top_statements(std::size_t limit);

  /// The server's cumulative counters for the run's schema now, to be
  /// compared with a later reading (pg_trend.hpp):
  /// `{statements: [{id, query, calls, exec_ms}], table: {live_rows,
  /// dead_rows, autovacuums, heap_bytes}, indexes: [{name, bytes, scans,
  /// tuples_read}]}`. `statements` is empty without pg_stat_statements.
  nlohmann::json counters();

  /// Server settings that decide what a commit costs (fsync,
  /// synchronous_commit, ...) and the server version.
  nlohmann::json server_settings();

private:
  struct impl; // keeps libpqxx out of this header
  std::unique_ptr<impl> impl_;
};

} // namespace durable::bench
