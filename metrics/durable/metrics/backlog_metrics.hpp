#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "durable/metrics/registry.hpp"
#include "durable/store.hpp"

/// The cluster's ready backlog per task, measured by one node.
namespace durable::metrics {

/// Registers two gauges read from store::ready_backlog():
/// - `durable_ready_executions{task}`: ready executions that are due
///   (`start_at` passed) and not yet claimed;
/// - `durable_oldest_ready_age_seconds{task}`: how long the oldest of them
///   has been due (the store's now minus its `start_at`).
/// The backlog is the cluster's, not a node's: only the maintenance
/// leader (`is_leader()`) measures it, so that summing over nodes does not
/// count it once per node. On other nodes both metrics have no series.
///
/// **Cost.** One store query per `max_age` at most (15 s by default, a
/// common scrape interval), made by the render that finds the last
/// measurement older: a scrape reads a value at most `max_age` old.
/// The query reads every due ready row through the ready index, never the
/// table (store::ready_backlog()).
///
/// **Threading, errors.** The gauges are read on the rendering thread, which
/// blocks for the store query; concurrent renders wait for one query. A
/// query that fails leaves both metrics without series until the next
/// measurement (`max_age` later): an unreachable store shows as missing
/// series, not as a stale backlog. The registry and the store must outlive
/// this object, and this object every render of the registry.
class backlog_metrics {
public:
  /// The monotonic clock that times `max_age` (steady_clock::now unless
  /// a test injects one).
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;

  /// Registers the gauges above in `reg`. `is_leader` is called at each
  /// render; `clock` times `max_age` (tests move it by hand).
  /// @throws std::invalid_argument if one of them is registered already.
  backlog_metrics(
    registry& reg, std::shared_ptr<store> db, std::function<bool()> is_leader,
    std::chrono::steady_clock::duration max_age = std::chrono::seconds{15},
    clock_fn clock = std::chrono::steady_clock::now);

  backlog_metrics(const backlog_metrics&) = delete;
  backlog_metrics& operator=(const backlog_metrics&) = delete;

private:
  struct measurement {
    std::chrono::steady_clock::time_point at;
    timestamp store_now{};
    std::vector<ready_backlog_entry> rows;
  };

  /// The last measurement, taken again if older than `max_age_`; empty
  /// rows when this node does not lead.
  std::vector<gauge_sample> samples(bool ages);

  std::shared_ptr<store> db_;
  std::function<bool()> is_leader_;
  std::chrono::steady_clock::duration max_age_;
  clock_fn clock_;
  std::mutex mtx_;
  std::optional<measurement> last_;
};

} // namespace durable::metrics
