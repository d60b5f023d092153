#pragma once

#include "durable/metrics/registry.hpp"
#include "durable/options.hpp"

namespace durable {
struct engine_event;
} // namespace durable

/// The engine's events (durable/observer.hpp) as metrics.
namespace durable::metrics {

/// Counts what an executor's observer is told:
/// - `durable_store_errors_total{operation, failure}`: store calls that
///   failed (`failure` is `unknown` when the error named none);
/// - `durable_lease_renewal_failures_total`;
/// - `durable_leases_lost_total`;
/// - `durable_conflicts_total`;
/// - `durable_corrupt_rows_total`;
/// - `durable_leader`: 1 while this node is the cluster's maintenance
///   leader, 0 otherwise.
///
/// **Threading.** record() may be called from any thread, from several at
/// once (as an observer is); it never blocks but on the first error of an
/// (operation, failure) pair. The registry must outlive this object, and
/// this object every observer() it returned.
class engine_metrics {
public:
  /// Registers the metrics above in `reg`.
  /// @throws std::invalid_argument if one of them is registered already.
  explicit engine_metrics(registry& reg);

  /// Counts `e` into its metric, or sets `durable_leader` for a
  /// leadership event (read from its message: "no longer" means lost).
  /// Events of other kinds (`renewal_restored`) count nothing. A failure
  /// to record (std::bad_alloc) is swallowed: the event is not counted.
  void record(const engine_event& e) noexcept;

  /// Whether the last leadership event said this node leads (what
  /// `durable_leader` shows).
  bool leader() const noexcept {
    return leader_.value() == 1;
  }

  /// An observer for executor_options::observer that records each event
  /// and then passes it to `next` (when set), e.g. a logger.
  engine_observer observer(engine_observer next = {});

private:
  counter_family& store_errors_;
  counter& renewal_failures_;
  counter& leases_lost_;
  counter& conflicts_;
  counter& corrupt_rows_;
  gauge& leader_;
};

} // namespace durable::metrics
