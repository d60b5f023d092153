#pragma once

#include <caf/fwd.hpp>

#include "durable/time.hpp"

namespace durable::nodes {

/// How an actor system talks over CAF's network layer (BASP).
///
/// CAF 0.17 turns heartbeats off by default, and then a peer that freezes
/// with its socket open (SIGSTOP, a hung host) is never noticed: a client
/// waiting on it would wait forever. With heartbeats on, a silent peer is
/// dropped after `connection_timeout` and everything waiting on it fails.
/// A peer that dies (its socket closes) is noticed at once either way.
struct network_options {
  /// How often each side tells the other it is alive.
  millis heartbeat_interval{1000};
  /// How long a connection may stay silent before it is dropped; several
  /// heartbeats, so that a busy 2-core machine does not drop healthy peers.
  millis connection_timeout{10000};
};

/// Prepares an actor system configuration for the network, for a node
/// (which publishes its gateway) and a client alike: loads CAF's
/// middleman, registers every type the executor actor's messages carry
/// (actors/wire_types.hpp) and durable's error category, and sets the
/// heartbeat interval and connection timeout explicitly. Call it once per
/// configuration, before the actor system is created from it.
void prepare_network_config(caf::actor_system_config& cfg,
                            const network_options& opts = {});

} // namespace durable::nodes
