#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "durable/list_query.hpp"
#include "durable/time.hpp"

/// The cluster's registry of nodes, kept in the store (store::report_node(),
/// store::nodes(), store::finished_by_minute()): each node reports itself
/// every few seconds, so that any node can show every other one and the
/// cluster's finished executions over time (the HTTP API's /v1/nodes and
/// /v1/stats/series, the console). The engine never reads it: leases and
/// leadership do not depend on it.
namespace durable {

/// Where a node is in its life, as it last reported.
enum class node_state : std::uint8_t {
  running,  ///< claims and runs executions
  draining, ///< stopping: claims nothing, lets running bodies finish
  stopped,  ///< shut down cleanly (its last report)
};

/// "running", "draining", "stopped".
std::string_view to_string(node_state s) noexcept;

/// The state a to_string() name names; nullopt for anything else.
std::optional<node_state> parse_node_state(std::string_view name) noexcept;

/// One node as the registry holds it.
struct node_info {
  /// The node's incarnation (one per process start): the registry's key.
  std::string incarnation;
  /// The node's name (several incarnations may share one).
  std::string name;
  /// The version of the program (durable::version()).
  std::string version;
  /// When the process started.
  timestamp started_at{};
  /// The store's now() at the node's latest report (set by the store).
  timestamp heartbeat_at{};
  /// Execution bodies it ran at its latest report.
  std::uint32_t running = 0;
  /// Executions it may run at once (executor_options::max_concurrent).
  std::uint32_t slots = 0;
  /// Whether it led the cluster's maintenance at its latest report.
  bool leader = false;
  /// Its state at its latest report.
  node_state state = node_state::running;

  /// Equal when every field is.
  friend bool operator==(const node_info&, const node_info&) = default;
};

/// What a node reports: itself, and what it finished since its previous
/// report.
struct node_report {
  /// The node (`heartbeat_at` is ignored: the store stamps its own now()).
  node_info node;
  /// Executions this node finished since its previous report, by final
  /// status (non-final statuses are refused); added to the current
  /// minute's counts.
  status_counts finished;
};

/// Executions finished across the cluster in one minute with one status.
struct finished_count {
  /// The minute's start (a whole minute of the store's clock).
  timestamp minute{};
  /// The final status.
  execution_status status = execution_status::completed;
  /// How many, summed over the nodes that reported them.
  std::uint64_t count = 0;

  /// Equal when every field is.
  friend bool operator==(const finished_count&, const finished_count&)
    = default;
};

/// How often a node program reports itself (nodes::node_reporter).
inline constexpr std::chrono::seconds node_report_interval{2};

/// A node whose latest report is older than this, and that did not report
/// `stopped`, is shown as lost (killed, frozen or cut off).
inline constexpr std::chrono::seconds node_lost_after{15};

/// How long the registry keeps a node that no longer reports and a minute
/// of finished counts: older ones are removed by the next report.
inline constexpr std::chrono::hours node_registry_keep{24};

/// The order of store::nodes(): by name, then newest start first, then by
/// incarnation (so that every store lists the same way).
bool registry_order(const node_info& a, const node_info& b) noexcept;

/// Checks a report before a store writes it: an incarnation, and only
/// final statuses in `finished`.
/// @throws durable::error (non-retryable) naming what is wrong.
void validate(const node_report& r);

/// The start of the minute `t` falls in.
timestamp minute_of(timestamp t) noexcept;

} // namespace durable
