#include "durable/metrics/backlog_metrics.hpp"

#include <string>
#include <utility>

namespace durable::metrics {

backlog_metrics::backlog_metrics(registry& reg, std::shared_ptr<store> db,
                                 std::function<bool()> is_leader,
                                 std::chrono::steady_clock::duration max_age,
                                 clock_fn clock)
  : db_(std::move(db)),
    is_leader_(std::move(is_leader)),
    max_age_(max_age),
    clock_(std::move(clock)) {
  reg.add_gauge_family_callback(
    "durable_ready_executions",
    "Ready executions due and not yet claimed, by task (measured by the "
    "maintenance leader)",
    {"task"}, [this] { return samples(false); });
  reg.add_gauge_family_callback(
    "durable_oldest_ready_age_seconds",
    "How long the oldest due ready execution has waited, by task (measured "
    "by the maintenance leader)",
    {"task"}, [this] { return samples(true); });
}

std::vector<gauge_sample> backlog_metrics::samples(bool ages) {
  std::lock_guard guard{mtx_};
  if (!is_leader_()) {
    // A node that leads again measures afresh, not from its last term.
    last_.reset();
    return {};
  }
  const auto now = clock_();
  if (!last_ || now - last_->at >= max_age_) {
    // Stamped before the query: a failing store is asked again only
    // `max_age_` later, not at every render.
    last_ = measurement{now, {}, {}};
    last_->rows = db_->ready_backlog();
    last_->store_now = db_->now();
  }
  std::vector<gauge_sample> out;
  out.reserve(last_->rows.size());
  for (const auto& r : last_->rows) {
    const double value = ages ? std::chrono::duration<double>(
                                  last_->store_now - r.oldest_start_at)
                                  .count()
                              : static_cast<double>(r.count);
    out.push_back({{r.task_id}, value});
  }
  return out;
}

} // namespace durable::metrics
