#pragma once

#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/list_query.hpp"
#include "durable/nodes/http/message.hpp"
#include "durable/options.hpp"

/// What the HTTP API accepts, parsed strictly: a field of the wrong type, an
/// unknown field or a malformed number is a 400 whose message names the
/// field, never a silent default. Every function throws `api_error`.
namespace durable::nodes::http {

/// A request body that must be one JSON object (an empty body is `{}`),
/// nested at most `max_depth` deep (each object or array a level). The
/// depth is checked while parsing, before the next level is built, so no
/// later recursion over the document (serializing it, destroying it) can
/// run deeper than that. A number out of the range of a double (`1e400`)
/// is refused too.
nlohmann::json parse_object(std::string_view body, std::size_t max_depth);

/// `POST /v1/tasks/{task}/executions`: `{"input": any, "options": {...}}`.
struct enqueue_request {
  /// The input as JSON text (`null` when absent).
  std::string input = "null";
  enqueue_options options;
};

/// The headers of an enqueue that stand for options, each given at most
/// once (the server refuses a repeated one).
struct enqueue_headers {
  /// `Idempotency-Key`.
  std::optional<std::string> idempotency_key;
  /// `traceparent` (W3C Trace Context).
  std::optional<std::string> traceparent;
};

/// Options: `timeout_ms`, `sleep_before_run_ms`, `idempotency_key`,
/// `traceparent`, `retry` (`max_attempts`, `base_delay_ms`, `multiplier`,
/// `max_delay_ms`, `jitter`: "none" | "full" | "equal"). A header of
/// `headers` is used when the body does not give its option; giving both,
/// different, is an error. A key is 1 to 255 bytes of storable text (valid
/// UTF-8, no NUL); a traceparent must be valid (trace_context.hpp): a
/// malformed one is refused, not dropped, so that a broken propagation
/// shows at once.
enqueue_request parse_enqueue(const nlohmann::json& body,
                              enqueue_headers headers);

/// `POST /v1/tasks/{task}/executions/batch`: `{"inputs": [any, ...],
/// "options": {...}}`, one execution per input (1 to `max_inputs`), every
/// one with the same options (and headers, as for parse_enqueue()). An
/// idempotency key is suffixed `:i` per input by the executor.
struct enqueue_batch_request {
  /// The inputs as JSON text, in order.
  std::vector<std::string> inputs;
  enqueue_options options;
};

enqueue_batch_request parse_enqueue_batch(const nlohmann::json& body,
                                          enqueue_headers headers,
                                          std::size_t max_inputs);

/// `POST /v1/tasks/{task}/wake`: `{"sleeping_id": s, "output": any}` or
/// `{"sleeping_id": s, "error": "message"}` (exactly one of the two).
struct wake_request {
  std::string sleeping_id;
  /// The output as JSON text; nullopt for an error wake-up.
  std::optional<std::string> output;
  std::string error_message;
};

wake_request parse_wake(const nlohmann::json& body);

/// The query parameters of an execution_filter: `status` (comma-separated),
/// `task_id`, `parent_id`, `created_from_us`, `created_before_us`,
/// `root_id`, `idempotency_key`, `sleeping_id` and `error` (text the error
/// message contains).
inline constexpr std::array<std::string_view, 9> filter_params{
  "status",          "task_id",           "parent_id",
  "created_from_us", "created_before_us", "root_id",
  "idempotency_key", "sleeping_id",       "error"};

/// `GET /v1/executions`: the filter_params, `limit`, `cursor` and `order`
/// (`newest`, the default, or `oldest`).
list_request parse_list(const query_params& params);

/// `GET /v1/stats` and the bulk calls: the filter_params (not checked
/// here; callers check_params() for the parameters they take).
execution_filter parse_filter(const query_params& params);

/// An optional non-negative integer query parameter, or nullopt if absent.
std::optional<std::int64_t> int_param(const query_params& params,
                                      const std::string& name);

/// Refuses any parameter not in `allowed`.
void check_params(const query_params& params,
                  std::initializer_list<std::string_view> allowed);

/// Refuses any parameter in neither `allowed` nor `also_allowed`.
void check_params(const query_params& params,
                  std::initializer_list<std::string_view> allowed,
                  std::span<const std::string_view> also_allowed);

} // namespace durable::nodes::http
