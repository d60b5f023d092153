#pragma once

#include <cstdint>

#include <caf/fwd.hpp>

#include "durable/actors/runtime.hpp"

namespace durable::actors {

/// Spawns the service actors of one executor into `sys` and subscribes the
/// dispatcher to the store's events: timers, storage (detached unless the
/// runtime says otherwise), janitor, lease keeper (detached likewise) and
/// dispatcher. Fills the actor handles of `rt`. Returns the listener token
/// for stop_engine().
std::uint64_t start_engine(caf::actor_system& sys, const runtime_ptr& rt);

/// Unsubscribes from the store and tells every actor of the engine to quit
/// (the dispatcher takes its execution actors with it). Does not block:
/// draining running bodies first is the caller's business.
void stop_engine(const runtime_ptr& rt, std::uint64_t listener_token);

} // namespace durable::actors
