#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/error.hpp"
#include "durable/options.hpp"
#include "durable/typed.hpp"

namespace durable {
class executor;
} // namespace durable

/// Remote-procedure tasks: a durable task whose body is an app's HTTP
/// endpoint, so that a node calls back into a web app written in any
/// language and the call gets timeouts, retries and cancellation like any
/// other task (REFERENCE §5.7, `convertProcedureClientToTask`).
///
/// Each run POSTs the execution's input (JSON) to the configured URL with
/// the configured headers plus the context headers
///
///     X-Durable-Task-Id: <task id>
///     X-Durable-Execution-Id: <execution id>
///     X-Durable-Attempt: <attempt, 0 on the first run>
///     Idempotency-Key: <execution id>:<attempt>
///     traceparent: <the execution's trace context, when it has one>
///
/// and a 2xx response's JSON body is the output (an empty body is `null`).
/// A run may happen more than once per attempt (a node that dies mid-call
/// makes another node repeat it), so the endpoint should deduplicate by the
/// idempotency key.
namespace durable::nodes::http {

/// Where and how a remote-procedure task calls.
struct remote_task_options {
  /// The task: id, timeout (which bounds the whole call), retries, …
  task_options task;
  /// `http://host[:port]/path` or `https://…`. Credentials belong in
  /// `headers`, not in the URL.
  std::string url;
  /// Extra request headers (e.g. `Authorization`), sent on every call.
  std::vector<std::pair<std::string, std::string>> headers;
  /// How long connecting may take.
  millis connect_timeout{5'000};
  /// How long one read or write of the call may block.
  millis io_timeout{30'000};
};

/// Registers a remote-procedure task with `exec` (JSON in, JSON out) and
/// returns its reference.
///
/// Failures are recorded as execution errors: 404 → not found
/// (non-retryable); 408, 429 → retryable; 500, 502, 503, 504 → retryable
/// and internal; any other status ≥ 500 → internal, non-retryable; any
/// other status (4xx, unfollowed 3xx) → non-retryable; a 2xx whose body is
/// not JSON → non-retryable; a network failure or I/O timeout → retryable.
/// When the run's cancel or shutdown token fires, the call's socket is shut
/// down and the run ends cancelled at once.
///
/// @throws durable::error for invalid task options or a URL that is not
///         http(s)://host[:port][/path].
task_ref<nlohmann::json, nlohmann::json> remote_task(durable::executor& exec,
                                                     remote_task_options opts);

/// The execution error for an HTTP status (nullopt for 2xx); `excerpt` is
/// the start of the response body, quoted in the message.
std::optional<durable::error> error_for_status(int status,
                                               std::string_view task_id,
                                               std::string_view excerpt);

/// A URL split for the HTTP client.
struct split_url {
  /// `scheme://host[:port]`.
  std::string origin;
  /// The path and query, `/` when empty.
  std::string target;
};

/// Splits `url`; throws durable::error (non-retryable) naming what is wrong.
split_url parse_url(std::string_view url);

} // namespace durable::nodes::http
