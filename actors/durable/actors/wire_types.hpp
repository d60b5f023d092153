#pragma once

#include <caf/fwd.hpp>

namespace durable::actors {

/// Registers on `cfg` every type the executor actor's messages carry over
/// the network (wire.hpp) and durable's error category (wire_errors.hpp).
/// Call it on every actor system that talks to an executor actor remotely,
/// the node's and the client's alike: CAF 0.17 cannot send an unregistered
/// type (the receiver gets an empty message) and rejects a remote typed
/// handle whose interface names types it does not know.
void register_wire_types(caf::actor_system_config& cfg);

} // namespace durable::actors
