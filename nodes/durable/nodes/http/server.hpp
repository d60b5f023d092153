#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "durable/time.hpp"

namespace durable {
class executor;
} // namespace durable

namespace durable::metrics {
class registry;
} // namespace durable::metrics

/// The HTTP/JSON API of a node (docs/http-api.md): web apps in any language
/// enqueue, read, wait for, cancel and wake executions, list them and read
/// their trees.
namespace durable::nodes::http {

/// How the server listens and what it allows.
struct server_options {
  /// The address to listen on. Anything but a loopback address (see
  /// is_loopback_address()) requires `token`.
  std::string bind_address = "127.0.0.1";
  /// 0 picks a free port (see server::port()).
  std::uint16_t port = 0;
  /// The bearer token every request must carry; empty for none (loopback
  /// only). Never logged.
  std::string token{};
  /// Whether the probes (`GET /v1/health` and `GET /v1/health/ready`)
  /// answer without the token, for load balancers and orchestrators that
  /// cannot send one. They reveal only whether the node is up and ready.
  bool public_probes = false;
  /// Whether the server serves the web console (docs/console.md) under
  /// `/ui/` (and redirects `/` there). Its files answer without the token
  /// (the page shows a login form); the API it calls requires it as ever.
  bool console = true;
  /// How long `GET /v1/health/ready` waits for the store's answer before
  /// it reports the store unreachable (10 ms..1 min).
  millis ready_timeout{1'000};
  /// Larger request bodies are refused with 413, whatever their framing:
  /// at once when `Content-Length` says so, as soon as a chunked body
  /// grows past it otherwise.
  std::size_t max_body_bytes = 2 * 1024 * 1024;
  /// Threads that run requests (2..1024). Connections hold none: a slow or
  /// idle client costs a socket, not a thread (transport.hpp). A long poll
  /// holds one while it waits.
  std::size_t threads = 16;
  /// Long polls allowed at once (1..threads - 1), so that waiters can never
  /// take every thread; one more is answered 503 with `Retry-After`.
  std::size_t max_concurrent_waits = 8;
  /// The longest a long poll waits, whatever the client asks (1 ms..10 min).
  millis max_wait{30'000};
  /// A long poll re-checks whether the server stops this often, so stop()
  /// never waits longer than this for a waiter (10 ms..max_wait).
  millis wait_slice{1'000};
  /// How long a connection may stay open without a request in progress.
  millis keep_alive_timeout{2'000};
  /// From a request's first byte to the end of its head (request line and
  /// header fields); 408 after (100 ms..10 min).
  millis header_timeout{10'000};
  /// From the end of the head to the end of the body; 408 after
  /// (100 ms..10 min).
  millis body_timeout{30'000};
  /// A response not written by then is abandoned (100 ms..10 min).
  millis write_timeout{10'000};
  /// The request line and header fields together (1 KiB..1 MiB); 431
  /// beyond.
  std::size_t max_header_bytes = 16 * 1024;
  /// Header fields in one request (1..10,000); 431 beyond.
  std::size_t max_header_fields = 100;
  /// Open connections at most (1..1,000,000). One more closes the slowest
  /// connection not running a request (transport.hpp).
  std::size_t max_connections = 512;
  /// Open connections from one client address at most
  /// (1..max_connections); one more closes that address's slowest.
  std::size_t max_connections_per_address = 128;
  /// Inputs in one `POST /v1/tasks/{task}/executions/batch` (1..100,000);
  /// 400 beyond. The body's size is bounded by `max_body_bytes` too.
  std::size_t max_batch_inputs = 10'000;
  /// JSON bodies nest at most this deep (1..1,000); 400 beyond. Every
  /// object or array is a level: `{"input": [[1]]}` has three.
  std::size_t max_json_depth = 128;
  /// The metrics `GET /metrics` renders (Prometheus text format 0.0.4),
  /// and where the server counts its requests
  /// (`durable_http_requests_total{route, code}`) and their latency
  /// (`durable_http_request_duration_seconds{route}`, from the end of the
  /// request to its response being ready). Null: no `/metrics` route
  /// (404), nothing counted. The server registers its two metrics in it
  /// (std::invalid_argument if they are registered already).
  /// `/metrics` requires the token as every other route does:
  /// `public_probes` does not open it (it names tasks and volumes).
  std::shared_ptr<metrics::registry> metrics{};
  /// Where the server logs (start, stop, internal errors with their
  /// reference); stderr when empty. Called from any server thread.
  std::function<void(std::string_view)> log{};
};

/// An embeddable HTTP server in front of one executor.
///
/// It serves the routes of docs/http-api.md (transport.hpp reads and writes
/// the connections; a pool of its own threads runs the requests), calling the
/// executor's untyped API (and its store for listings, counts and trees). Mount
/// it in a node with a few lines:
///
///     durable::nodes::http::server api{exec, {.port = 8080}};
///     api.start();
///     ...
///     api.stop(); // before the executor shuts down
///
/// **Security.** Refuses to be built on a non-loopback address without a
/// token; with a token, every route requires `Authorization: Bearer`, 401
/// otherwise (compared in constant time), except the probes when
/// `public_probes` is set and the web console's files (`console`), which
/// hold no data and must load to ask for the token. Error bodies never
/// carry stack traces, SQL or secrets: internal failures are logged with a
/// reference number and answered with that number only.
///
/// **Readiness.** `GET /v1/health/ready` is `200` when the store answers a
/// ping (a read of one row by key) within `ready_timeout` and the server is
/// not draining, `503` naming why otherwise. The ping runs on a thread of
/// its own, one at a time: while one that timed out has not returned, the
/// store is reported unreachable without another.
///
/// **Threading.** start(), stop() and port() may be called from any thread
/// but not concurrently with each other; handlers run on the server's own
/// threads. The executor must outlive the server.
class server {
public:
  // -- constructors, destructors, and assignment operators -------------------

  /// Checks `opts`.
  /// @throws durable::error "Invalid options: …" when an option is out of
  ///         range or a non-loopback address has no token.
  server(durable::executor& exec, server_options opts);

  /// Stops the server.
  ~server();

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // -- lifecycle --------------------------------------------------------------

  /// Binds and starts serving; returns once requests are accepted.
  /// @throws durable::error when the address cannot be bound, or when
  ///         called twice.
  void start();

  /// Stops accepting, lets requests in progress finish (long polls end
  /// within `wait_slice`) and joins every thread. Idempotent.
  void stop();

  /// Starts draining: from now on every route but the probes is answered
  /// `503` with `Retry-After` and a JSON error, `GET /v1/health/ready` is
  /// `503` ("draining") and `GET /v1/health` stays `200`, until stop().
  /// Requests in progress (long polls included) go on. A node calls it
  /// before it drains its executor, so that load balancers and clients
  /// move to other nodes while running bodies finish. Idempotent; any
  /// thread.
  void drain() noexcept;

  /// Whether drain() was called (it stays so until destruction). Any
  /// thread.
  bool draining() const noexcept;

  // -- properties -------------------------------------------------------------

  /// The port the server listens on (the chosen one when `port` was 0);
  /// 0 before start().
  std::uint16_t port() const noexcept;

  /// Whether the server serves: true from start() returning until stop().
  bool running() const noexcept;

  /// The options the server was built with.
  const server_options& options() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Throws durable::error "Invalid options: …" if `opts` cannot be served.
void validate(const server_options& opts);

} // namespace durable::nodes::http
