#include "durable/actors/retention.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace durable::actors {

namespace {

constexpr std::array finals{
  execution_status::completed, execution_status::failed,
  execution_status::timed_out, execution_status::finalize_failed,
  execution_status::cancelled,
};

/// Appends to `out` one copy of `proto` per distinct positive duration
/// `keep(status)` over the final statuses: statuses that share a duration
/// share a call; a status kept forever (0) gets none.
template <class Keep>
void append_requests(std::vector<prune_request>& out,
                     const prune_request& proto, timestamp now, Keep keep) {
  const auto first = static_cast<std::ptrdiff_t>(out.size());
  for (auto s : finals) {
    const auto d = keep(s);
    if (d.count() <= 0)
      continue;
    const auto cutoff = now - d;
    auto same = std::find_if(out.begin() + first, out.end(),
                             [&](const auto& r) {
                               return r.finished_before == cutoff;
                             });
    if (same != out.end()) {
      same->statuses.push_back(s);
      continue;
    }
    auto req = proto;
    req.statuses = {s};
    req.finished_before = cutoff;
    out.push_back(std::move(req));
  }
}

} // namespace

std::vector<prune_request> retention_requests(const retention_options& opts,
                                              timestamp now) {
  std::vector<prune_request> out;
  prune_request general;
  general.limit = opts.batch_size;
  general.except_tasks.reserve(opts.tasks.size());
  for (const auto& [task, _] : opts.tasks)
    general.except_tasks.push_back(task);
  append_requests(out, general, now,
                  [&](execution_status s) { return opts.for_status(s); });
  for (const auto& entry : opts.tasks) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const auto& task = entry.first;
    prune_request mine;
    mine.limit = opts.batch_size;
    mine.task_id = task;
    append_requests(out, mine, now,
                    [&](execution_status s) { return opts.for_task(task, s); });
  }
  return out;
}

} // namespace durable::actors
