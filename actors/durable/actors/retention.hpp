#pragma once

#include <vector>

#include "durable/options.hpp"
#include "durable/store.hpp"

namespace durable::actors {

/// The store calls of one retention sweep at store time `now`: one
/// prune_request per distinct general duration of `opts` (statuses that
/// share a duration share a call), which excludes every task of
/// `opts.tasks` (`except_tasks`), followed by, for each of those tasks in
/// id order, one request per distinct duration of that task (its override
/// where it sets the status, the general duration otherwise) naming the task
/// (`task_id`). Each removes up to `opts.batch_size` trees whose root
/// finished before `now - duration`; a duration of 0 (kept forever) makes
/// no request. Empty when retention is off. Pure; the janitor sends each to
/// the prune actor as its own message, so that no turn of that actor
/// removes more than one batch.
std::vector<prune_request> retention_requests(const retention_options& opts,
                                              timestamp now);

} // namespace durable::actors
