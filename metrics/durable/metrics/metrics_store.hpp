#pragma once

#include <memory>

#include "durable/metrics/registry.hpp"
#include "durable/store.hpp"

/// A store that counts what this process commits through it.
namespace durable::metrics {

/// Wraps a store and forwards every call to it unchanged, counting:
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
class metrics_store : public store {
public:
  /// Registers the metrics above in `reg`.
  /// @throws std::invalid_argument if one of them is registered already.
  metrics_store(std::shared_ptr<store> inner, registry& reg);

  const std::shared_ptr<store>& inner() const noexcept {
    return inner_;
  }

  timestamp now() override;
  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override;
  std::vector<write_outcome> apply(std::vector<transition> ts) override;
  claim_result claim(const claim_request& req) override;
  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override;
  std::size_t release_leases(const std::string& owner) override;
  bool try_lead(const std::string& role, const std::string& owner,
                millis lease) override;
  std::optional<execution_record> get(const std::string& id) override;
  std::optional<execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) override;
  std::vector<execution_record>
  children_of(const std::string& parent_id) override;
  sleeper_scan scan_sleepers(std::size_t limit) override;
  list_page list(const list_request& req) override;
  status_counts count_by_status(const execution_filter& f) override;
  std::optional<execution_record> watch(const std::string& id) override;
  bool erase(const std::string& id) override;
  std::uint64_t subscribe(store_listener listener) override;
  void unsubscribe(std::uint64_t token) override;

private:
  std::shared_ptr<store> inner_;
  counter_family& enqueued_;
  counter_family& finished_;
  histogram& apply_seconds_;
  histogram& apply_batch_;
};

} // namespace durable::metrics
