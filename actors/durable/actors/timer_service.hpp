#pragma once

#include <caf/fwd.hpp>

namespace durable::actors {

/// The node's one deadline service: timeouts, retry delays, sleep-before-run
/// and sleeper deadlines all go through it.
///
/// CAF 0.17's `delayed_send` cannot be cancelled and keeps its target alive
/// until it fires, so executions never use it directly. The service keeps a
/// heap of deadlines and a single pending wake-up of its own, rescheduled
/// only when an earlier deadline arrives.
///
/// Protocol:
/// - `(tset, token, timespan delay, actor target, message msg)`: send `msg`
///   to `target` after `delay`;
/// - `(tcancel, token)`: forget it (no effect if already sent).
/// Timed messages are sent in deadline order; time is CAF's actor clock, so
/// the deterministic test coordinator drives it with virtual time.
caf::behavior timer_service(caf::event_based_actor* self);

} // namespace durable::actors
