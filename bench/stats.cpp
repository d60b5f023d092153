#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace durable::bench {

namespace {

double ms_between(timestamp from, timestamp to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

} // namespace

distribution percentiles(std::vector<double> xs) {
  distribution d;
  d.count = xs.size();
  if (xs.empty())
    return d;
  std::sort(xs.begin(), xs.end());
  auto at = [&xs](double p) {
    auto rank = static_cast<std::size_t>(
      std::ceil(p * static_cast<double>(xs.size())));
    return xs[std::clamp<std::size_t>(rank, 1, xs.size()) - 1];
  };
  d.p50 = at(0.50);
  d.p90 = at(0.90);
  d.p99 = at(0.99);
  d.max = xs.back();
  return d;
}

row_stats compute_stats(const std::vector<row_sample>& rows, timestamp t0,
                        double interval_s) {
  row_stats st;
  st.rows = rows.size();
  std::vector<double> to_start;
  std::vector<double> to_finish;
  to_start.reserve(rows.size());
  to_finish.reserve(rows.size());
  std::unordered_map<std::string, timestamp> last_child;
  const auto interval = std::chrono::duration<double>(interval_s);
  for (const auto& r : rows) {
    if (r.parent_id.empty())
      ++st.top_level;
    if (r.started_at)
      to_start.push_back(ms_between(r.created_at, *r.started_at));
    if (!r.finished_at)
      continue;
    ++st.finished;
    to_finish.push_back(ms_between(r.created_at, *r.finished_at));
    if (!st.last_finished || *r.finished_at > *st.last_finished)
      st.last_finished = r.finished_at;
    if (!r.parent_id.empty() && !r.is_finalize) {
      auto [it, fresh] = last_child.try_emplace(r.parent_id, *r.finished_at);
      if (!fresh && *r.finished_at > it->second)
        it->second = *r.finished_at;
    }
    auto since = std::chrono::duration<double>(*r.finished_at - t0);
    auto bucket = static_cast<std::size_t>(
      std::max(0.0, std::floor(since / interval)));
    if (st.finished_per_interval.size() <= bucket)
      st.finished_per_interval.resize(bucket + 1);
    ++st.finished_per_interval[bucket];
  }
  std::vector<double> child_to_parent;
  for (const auto& r : rows)
    if (r.finished_at)
      if (auto it = last_child.find(r.id); it != last_child.end())
        child_to_parent.push_back(ms_between(it->second, *r.finished_at));
  st.enqueue_to_start = percentiles(std::move(to_start));
  st.enqueue_to_finish = percentiles(std::move(to_finish));
  st.child_to_parent = percentiles(std::move(child_to_parent));
  return st;
}

} // namespace durable::bench
