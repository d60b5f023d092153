#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "durable/nodes/http/message.hpp"

/// HTTP/1.1 on sockets: what stands between untrusted clients and the
/// API's handlers (server.hpp), built on Boost.Beast and Asio.
///
/// **Model.** One event-loop thread owns every connection: it accepts,
/// reads request heads and bodies and writes responses, without blocking,
/// so a slow or silent client costs a socket and a few kilobytes, never a
/// thread. Complete requests run on a pool of handler threads; a handler
/// may block (a long poll does), a connection never does.
///
/// **Limits** (each refused with an error body before more is read, and
/// the connection closed):
/// - a request head larger than `max_header_bytes` or with more than
///   `max_header_fields` fields → 431; a target longer than
///   max_target_bytes (url.hpp) → 414;
/// - a body larger than `max_body_bytes`, whatever its framing (a
///   `Content-Length` too large is refused at once; a chunked body when it
///   grows past the limit) → 413; a malformed or negative
///   `Content-Length`, or one together with `Transfer-Encoding` → 400;
///   any `Transfer-Encoding` but `chunked` → 501; any `Content-Encoding`
///   but `identity` → 415 (compressed bodies are never inflated);
/// - the head not complete `header_timeout` after its first byte, or the
///   body `body_timeout` after the head → 408; a connection idle for
///   `idle_timeout` between requests is closed; a response not written
///   within `write_timeout` is abandoned;
/// - at most `max_connections` connections, and `max_connections_per_address`
///   from one client address. A connection over either cap is not refused:
///   the *slowest* connection in its scope is closed instead — of those not
///   running a handler, the one that has waited longest for its current
///   request (idle, or still sending it). Only when every connection in the
///   scope is running a handler is the new one closed.
///
/// Every accepted socket has `TCP_NODELAY` (a kept-alive client never waits
/// for a delayed ACK). The listening socket has `SO_REUSEADDR` but never
/// `SO_REUSEPORT`: a second server on a bound port fails to start.
///
/// **Threading.** start() and stop() from any thread, not concurrently.
/// `on_head` runs on the event-loop thread and must not block; `on_request`
/// runs on a handler thread and may.
namespace durable::nodes::http {

struct transport_options {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t handler_threads = 16;
  std::size_t max_body_bytes = 2 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_fields = 100;
  std::size_t max_connections = 512;
  std::size_t max_connections_per_address = 128;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{2'000};
};

/// What the transport calls for each request.
struct transport_handlers {
  /// Once the head is read (method, target, headers; no body yet). A
  /// response answers the request without reading its body (auth, unknown
  /// routes, bad targets); nullopt reads the body and calls on_request.
  std::function<std::optional<response>(request&)> on_head;
  /// Once the body is read. Must not throw.
  std::function<response(request&)> on_request;
};

/// A listening HTTP server. Single use: start() once, stop() once.
class transport {
public:
  transport(transport_options opts, transport_handlers handlers);
  ~transport();

  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Binds and starts the threads; returns the bound port.
  /// @throws durable::error when the address cannot be bound.
  std::uint16_t start();

  /// Stops accepting and reading; requests already running finish and
  /// are answered (then their connections close); joins every thread.
  /// Idempotent.
  void stop();

  /// Connections open now (for tests and stats).
  std::size_t connections() const;

private:
  friend class session;
  struct core;
  std::shared_ptr<core> core_;
};

} // namespace durable::nodes::http
