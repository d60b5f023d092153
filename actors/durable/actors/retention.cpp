#include "durable/actors/retention.hpp"

#include <algorithm>
#include <array>

namespace durable::actors {

std::vector<prune_request> retention_requests(const retention_options& opts,
                                              timestamp now) {
  constexpr std::array finals{
    execution_status::completed, execution_status::failed,
    execution_status::timed_out, execution_status::finalize_failed,
    execution_status::cancelled,
  };
  std::vector<prune_request> out;
  for (auto s : finals) {
    const auto keep = opts.for_status(s);
    if (keep.count() <= 0)
      continue;
    const auto cutoff = now - keep;
    auto same = std::find_if(out.begin(), out.end(), [&](const auto& r) {
      return r.finished_before == cutoff;
    });
    if (same != out.end()) {
      same->statuses.push_back(s);
      continue;
    }
    prune_request req;
    req.statuses = {s};
    req.finished_before = cutoff;
    req.limit = opts.batch_size;
    out.push_back(std::move(req));
  }
  return out;
}

} // namespace durable::actors
