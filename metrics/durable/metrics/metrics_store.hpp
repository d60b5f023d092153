#pragma once

#include <memory>

#include "durable/forwarding_store.hpp"
#include "durable/metrics/registry.hpp"

/// A store that counts what this process commits through it.
namespace durable::metrics {

/// Wraps a store and forwards every call to it unchanged
/// (forwarding_store), counting:
/// - `durable_executions_enqueued_total{task}`: rows stored by insert()
///   (enqueues) and children stored by applied transitions;
/// - `durable_executions_finished_total{task, status}`: applied
///   transitions whose row finished (completed, failed, cancelled,
///   timed_out…). Descendants a cascade cancels inside the store are not
///   seen, nor other nodes' commits: each node counts its own writes, so
///   a cluster's total is the sum over its nodes;
/// - `durable_store_apply_duration_seconds`: each apply() call, from call
///   to return (a batch of transitions is one call);
/// - `durable_store_apply_batch_size`: transitions per apply() call.
///
/// **Threading, durability, errors.** Those of the wrapped store: every
/// call is the inner store's, and what it throws passes through (an apply
/// that throws is timed, nothing is counted). Counting costs a few atomic
/// increments and, per task, one shared-lock lookup of its series per call.
/// The registry must outlive this store.
class metrics_store : public forwarding_store {
public:
  /// Registers the metrics above in `reg`.
  /// @throws std::invalid_argument if one of them is registered already.
  metrics_store(std::shared_ptr<store> inner, registry& reg);

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override;
  std::vector<write_outcome> apply(std::vector<transition> ts) override;

private:
  counter_family& enqueued_;
  counter_family& finished_;
  histogram& apply_seconds_;
  histogram& apply_batch_;
};

} // namespace durable::metrics
