#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "durable/execution_record.hpp"
#include "durable/list_query.hpp"
#include "durable/store.hpp"

/// What the HTTP API answers with: executions, summaries, counts and trees
/// as JSON. Field names and time fields (`*_us`, microseconds since the
/// epoch) are those of `to_json(execution_record)`, except `retry.jitter`,
/// named ("none", "full", "equal") as the enqueue options name it.
namespace durable::nodes::http {

/// Every field of an execution, payloads embedded as JSON.
nlohmann::json execution_json(const execution_record& r);

/// An execution without its payloads (`input`, `output`, `run_output`):
/// what listings and trees show.
nlohmann::json summary_json(const execution_record& r);

/// `{"total": n, "by_status": {"ready": n, ...}}`.
nlohmann::json counts_json(const status_counts& counts);

/// execution_json() plus `children_summary`, the counts of its children by
/// status (read from `s`; no query for kinds that never have children).
nlohmann::json execution_with_children_json(durable::store& s,
                                            const execution_record& r);

/// Bounds of a tree walk: how deep, and how many executions in all.
struct tree_limits {
  static constexpr std::size_t max_depth_cap = 64;
  static constexpr std::size_t max_nodes_cap = 10'000;
  std::size_t max_depth = 16;
  std::size_t max_nodes = 1'000;
};

/// The tree under `root`, depth first, children in their parent's order
/// (finalize last): each node is a summary with `children` (an array). A
/// node whose children were left out because of `limits` has
/// `"truncated": true`. Reads the store with children_of() per node.
nlohmann::json tree_json(durable::store& s, const execution_record& root,
                         tree_limits limits);

} // namespace durable::nodes::http
