#pragma once

#include <caf/fwd.hpp>

namespace durable::actors {

/// Makes the actor system built from `cfg` run on the engine's scheduler:
/// CAF's work-stealing coordinator (`scheduler.max-threads` and the other
/// `scheduler.*` settings apply as usual) with a clock that lets an actor
/// which never set a CAF timeout exit without a word to the clock thread.
///
/// Why: CAF 0.17 calls `clock().cancel_timeouts(self)` whenever an actor
/// exits, and its thread-safe clock turns each call into a push onto the
/// clock thread's queue plus a wake-up of that thread, whether or not the
/// actor ever set a timeout. Execution actors never do (their timers are
/// the engine's timer_service, `request`s wait without a CAF timeout), and
/// one exits per execution. Actors that do set timeouts (receive timeouts,
/// requests with a deadline) are tracked and cancelled exactly as before.
///
/// Call before constructing the actor system; at most once per config.
/// Systems for deterministic tests (CAF's test coordinator) do not use it.
void use_engine_scheduler(caf::actor_system_config& cfg);

/// Whether `sys` runs on the engine's scheduler (use_engine_scheduler).
bool runs_engine_scheduler(caf::actor_system& sys);

} // namespace durable::actors
