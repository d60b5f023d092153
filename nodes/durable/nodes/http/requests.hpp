#pragma once

#include <map>
#include <optional>
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

/// Options: `timeout_ms`, `sleep_before_run_ms`, `idempotency_key`, `retry`
/// (`max_attempts`, `base_delay_ms`, `multiplier`, `max_delay_ms`,
/// `jitter`: "none" | "full" | "equal"). `idempotency_header` (the
/// `Idempotency-Key` header) is used when the body names no key; naming two
/// different keys is an error. A key is 1 to 255 bytes of storable text
/// (valid UTF-8, no NUL).
enqueue_request parse_enqueue(const nlohmann::json& body,
                              std::optional<std::string> idempotency_header);

/// `POST /v1/tasks/{task}/executions/batch`: `{"inputs": [any, ...],
/// "options": {...}}`, one execution per input (1 to `max_inputs`), every
/// one with the same options. An idempotency key (option or header, as for
/// parse_enqueue()) is suffixed `:i` per input by the executor.
struct enqueue_batch_request {
  /// The inputs as JSON text, in order.
  std::vector<std::string> inputs;
  enqueue_options options;
};

enqueue_batch_request
parse_enqueue_batch(const nlohmann::json& body,
                    std::optional<std::string> idempotency_header,
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

/// `GET /v1/executions`: `status` (comma-separated), `task_id`,
/// `parent_id`, `created_from_us`, `created_before_us`, `limit`, `cursor`.
list_request parse_list(const query_params& params);

/// `GET /v1/stats`: the filter parameters of parse_list() without paging.
execution_filter parse_filter(const query_params& params);

/// An optional non-negative integer query parameter, or nullopt if absent.
std::optional<std::int64_t> int_param(const query_params& params,
                                      const std::string& name);

/// Refuses any parameter not in `allowed`.
void check_params(const query_params& params,
                  std::initializer_list<std::string_view> allowed);

} // namespace durable::nodes::http
