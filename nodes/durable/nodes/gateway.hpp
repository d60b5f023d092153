#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "durable/actors/executor.hpp"
#include "durable/nodes/http/auth.hpp"

namespace durable::nodes {

/// Where a node's gateway listens.
struct gateway_options {
  /// A loopback address ("127.0.0.1", any 127.x.y.z, "::1" or
  /// "localhost"). Anything else is refused: CAF 0.17's network layer has
  /// no authentication, so whoever reaches the port could enqueue, cancel
  /// and wake executions. (Debian's CAF ships an OpenSSL module, but it is
  /// not wired here: remote access goes through a tunnel or the HTTP API.)
  std::string bind_address = "127.0.0.1";
  /// 0 picks a free port; gateway::port() reports the bound one.
  std::uint16_t port = 0;
  /// Allow binding a port still in TIME_WAIT (a quick node restart).
  bool reuse_address = true;
};

/// A node's remote face for C++ client programs (durable::client): the
/// executor's typed actor (executor_actor.hpp) published on a TCP port with
/// CAF's middleman (BASP). Clients enqueue, get, wait (pushed, never
/// polled), cancel and wake over it with the same checks and errors as the
/// facade.
///
/// Requirements: the executor runs inside an actor system whose
/// configuration went through prepare_network_config() (middleman loaded,
/// wire types registered, heartbeats on); otherwise publishing is refused.
///
/// Threading: construction and close() block briefly on the middleman;
/// calls from clients are served by the executor actor and never block a
/// scheduler thread. Closing stops accepting new connections; connections
/// already open keep working until the executor shuts down (then their
/// calls fail on the client with "connection lost" or "actor down").
///
/// Lifetime: close or destroy the gateway before the actor system it was
/// published in (the executor may shut down first).
///
/// Errors: throws durable::error (non-retryable) for a non-loopback
/// address, a missing middleman, a shut-down executor or a port that
/// cannot be bound.
class gateway {
public:
  /// Publishes `exec`'s actor on `opts.bind_address`:`opts.port`; returns
  /// once the port accepts connections.
  /// @throws durable::error (non-retryable) as described above.
  gateway(executor& exec, const gateway_options& opts);

  /// Closes (see close()).
  ~gateway();

  /// Takes over the other gateway's publication; the moved-from gateway
  /// is left closed (port() 0).
  gateway(gateway&&) noexcept;
  /// Takes over the other gateway's publication, leaving it closed. A
  /// publication this gateway still held is not closed: close() it first.
  gateway& operator=(gateway&&) noexcept;

  /// The TCP port the gateway listens on.
  std::uint16_t port() const noexcept;

  /// The address it is bound to.
  const std::string& address() const noexcept;

  /// Stops accepting connections. Idempotent.
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Publishes `exec`'s actor as configured by `opts` (see gateway).
gateway publish_gateway(executor& exec, const gateway_options& opts = {});

/// True for an address that only this host can reach (shared with the
/// HTTP API, which applies the same rule to its token requirement).
using http::is_loopback_address;

} // namespace durable::nodes
