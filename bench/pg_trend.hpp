#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

/// What grows during a sustained PostgreSQL run: the server's counters
/// (pg_monitor::counters()) read at a fixed period, and the differences
/// between consecutive readings. A statement whose time per call rises
/// from one interval to the next, or an index read more per scan, names
/// the cause of a throughput that decays.
namespace durable::bench {

/// Reads counters now and then every `period` on a thread of its own,
/// until finish(). Each reading gets `t_s`, the seconds since the first.
///
/// Threading: `read` runs on the sampler's thread and must lock whatever
/// it shares with the caller. finish() from the constructing thread.
class pg_sampler {
public:
  pg_sampler(std::function<nlohmann::json()> read,
             std::chrono::milliseconds period);
  ~pg_sampler();

  pg_sampler(const pg_sampler&) = delete;
  pg_sampler& operator=(const pg_sampler&) = delete;

  /// Takes a last reading, stops the thread and returns every reading in
  /// order. A reading that threw is skipped (the run goes on).
  std::vector<nlohmann::json> finish();

private:
  void take(std::chrono::steady_clock::time_point t0);

  std::function<nlohmann::json()> read_;
  std::chrono::milliseconds period_;
  std::mutex mtx_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<nlohmann::json> readings_;
  std::thread thread_;
};

/// The intervals between consecutive `readings`: `{t_s: [end of each
/// interval], statements: [{query, calls: [...], ms_per_call: [...]}] for
/// the `top` statements with the most time over the run, table:
/// {live_rows, dead_rows, autovacuums, heap_mb} at each interval's end,
/// indexes: [{name, mb: [...], tuples_per_scan: [...]}]}`. Null with fewer
/// than two readings.
nlohmann::json pg_trend(const std::vector<nlohmann::json>& readings,
                        std::size_t top);

/// Prints `trend` (pg_trend's result) as tables on stdout.
void print_trend(const nlohmann::json& trend);

} // namespace durable::bench
