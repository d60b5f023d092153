#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/node_registry.hpp"
#include "durable/store.hpp"

/// What the HTTP API answers about the cluster: its nodes (GET /v1/nodes),
/// its tasks (GET /v1/tasks) and its finished executions over time
/// (GET /v1/stats/series), from the store's node registry
/// (node_registry.hpp) and backlog. Times are microseconds since the epoch
/// (`*_us`) of the store's clock; `now_us` is that clock when the answer
/// was made, so that a client computes ages without trusting its own.
namespace durable::nodes::http {

/// `{"now_us", "this_incarnation", "nodes": [...]}`: each node with
/// `free_slots` and its `state`, which is `lost` for a node that did not
/// report `stopped` and whose latest report is older than node_lost_after.
nlohmann::json nodes_json(const std::vector<node_info>& nodes, timestamp now,
                          const std::string& this_incarnation);

/// `{"now_us", "tasks": [...]}`: the union of `registered` (the tasks of the
/// answering node) and the tasks with a due ready backlog, by task id, each
/// `{"task_id", "registered", "ready", "oldest_ready_at_us"}` (null
/// without a backlog).
nlohmann::json tasks_json(const std::vector<std::string>& registered,
                          const std::vector<ready_backlog_entry>& backlog,
                          timestamp now);

/// The time range and step of a series.
struct series_range {
  /// The first point's start (a whole minute).
  timestamp from{};
  /// The end of the last point (exclusive).
  timestamp to{};
  /// Each point's width: a whole number of minutes.
  std::chrono::minutes step{1};

  /// The most points one series has.
  static constexpr std::size_t max_points = 1'440;
  /// The latest time a series may name (9999-12-31T23:59:59.999999Z), so
  /// that rounding up to whole minutes cannot overflow.
  static constexpr std::int64_t max_time_us = 253'402'300'799'999'999;
};

/// `{"from_us", "to_us", "step_s", "points": [{"at_us", "completed",
/// "failed", "timed_out", "finalize_failed", "cancelled"}]}`: one point per
/// step from `range.from`, every final status in each (0 when none),
/// summing the minutes of `counts` that fall in it.
nlohmann::json series_json(const std::vector<finished_count>& counts,
                           const series_range& range);

} // namespace durable::nodes::http
