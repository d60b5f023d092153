#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "durable/time.hpp"
#include "readback.hpp"

/// Rates and latency distributions computed from the stored rows of a run
/// (the store's clock), so that what the harness reports is what the store
/// recorded.
namespace durable::bench {

/// Percentiles of one latency, in milliseconds.
struct distribution {
  std::size_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

/// The nearest-rank percentiles of `xs` (empty: all zero).
distribution percentiles(std::vector<double> xs);

/// What the rows of a run say.
struct row_stats {
  std::size_t rows = 0;
  std::size_t top_level = 0;
  std::size_t finished = 0;
  /// The last finished_at of any row.
  std::optional<timestamp> last_finished;
  distribution enqueue_to_start;  ///< started_at - created_at
  distribution enqueue_to_finish; ///< finished_at - created_at
  /// Per parent: its finished_at minus the last finished_at of its
  /// children (finalize excluded, so a finalize task's run is included).
  distribution child_to_parent;
  /// Rows finished per interval from `t0`, one entry per interval.
  std::vector<std::size_t> finished_per_interval;
};

/// Computes row_stats; `t0` is the store's clock at the first enqueue and
/// `interval_s` the width of the finished-per-interval buckets.
row_stats compute_stats(const std::vector<row_sample>& rows, timestamp t0,
                        double interval_s);

} // namespace durable::bench
