#pragma once

#include <caf/fwd.hpp>

#include "durable/actors/runtime.hpp"

namespace durable::actors {

/// Times out sleeping executions whose deadline passed.
///
/// It learns deadlines from the store's `deadline` events (routed by the
/// dispatcher as `(deadline, timestamp)`), keeps one wake-up at the earliest
/// through the timer service, scans after a resync, and also scans every
/// `supervisor_recheck_interval` as the safety net. Closing needs no sweep:
/// finishing a row and cancelling its descendants happen in one transaction.
///
/// With retention on (executor_options::retention), the leader also sweeps
/// old finished trees away: one `(prune, prune_request)` to the prune
/// actor per batch (retention_requests(); beside the storage actor, so
/// that removals never hold commits back), the next batch at once while
/// batches come back full, else after `retention.sweep_interval`, doubling
/// up to ten intervals while sweeps remove nothing. A node that stops
/// leading finishes no sweep; the new leader starts its own.
caf::behavior janitor(caf::event_based_actor* self, runtime_ptr rt);

/// Renews every lease this node holds, one store call per interval.
///
/// Runs detached (its own thread, and on PostgreSQL its own connection) so
/// that a busy scheduler can never make a healthy node lose its work.
caf::behavior lease_keeper(caf::event_based_actor* self, runtime_ptr rt);

} // namespace durable::actors
