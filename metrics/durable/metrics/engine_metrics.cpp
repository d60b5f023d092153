#include "durable/metrics/engine_metrics.hpp"

#include "durable/observer.hpp"

namespace durable::metrics {

engine_metrics::engine_metrics(registry& reg)
  : store_errors_(reg.add_counter("durable_store_errors_total",
                                  "Store calls that failed, by call and how",
                                  {"operation", "failure"})),
    renewal_failures_(
      reg
        .add_counter("durable_lease_renewal_failures_total",
                     "Times this node could not renew its leases")
        .with({})),
    leases_lost_(reg
                   .add_counter("durable_leases_lost_total",
                                "Executions this node stopped running because "
                                "it lost their lease")
                   .with({})),
    conflicts_(reg
                 .add_counter("durable_conflicts_total",
                              "Writes that lost to another writer (the "
                              "engine re-reads the row)")
                 .with({})),
    corrupt_rows_(reg
                    .add_counter("durable_corrupt_rows_total",
                                 "Stored rows that could not be decoded")
                    .with({})),
    leader_(reg
              .add_gauge("durable_leader",
                         "1 while this node is the cluster's maintenance "
                         "leader, 0 otherwise")
              .with({})) {}

void engine_metrics::record(const engine_event& e) noexcept {
  using t = engine_event::type;
  try {
    switch (e.kind) {
      case t::store_failure:
        store_errors_
          .with({e.operation.empty() ? "unknown" : e.operation,
                 e.failure ? std::string{to_string(*e.failure)} : "unknown"})
          .inc();
        break;
      case t::renewal_failed:
        renewal_failures_.inc();
        break;
      case t::renewal_restored:
        break;
      case t::lease_lost:
        leases_lost_.inc();
        break;
      case t::leadership:
        leader_.set(e.leading ? 1 : 0);
        break;
      case t::conflict:
        conflicts_.inc();
        break;
      case t::corrupt_row:
        corrupt_rows_.inc();
        break;
    }
  } catch (...) {
    // Only allocation can fail (a new label set); a lost count is better
    // than an engine thread unwinding.
  }
}

engine_observer engine_metrics::observer(engine_observer next) {
  return [this, next = std::move(next)](const engine_event& e) {
    record(e);
    if (next)
      next(e);
  };
}

} // namespace durable::metrics
