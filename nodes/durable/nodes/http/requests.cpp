#include "durable/nodes/http/requests.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "durable/nodes/http/api_error.hpp"
#include "durable/status.hpp"
#include "durable/trace_context.hpp"
#include "durable/utf8.hpp"

namespace durable::nodes::http {

namespace {

using nlohmann::json;

/// Dumps JSON as text, replacing invalid UTF-8 rather than throwing.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void only_fields(const json& obj, std::string_view where,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : obj.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw api_error::bad_request(
        fmt::format("Unknown field {}{}", where, key));
}

std::int64_t integer_field(const json& obj, std::string_view where,
                           const char* name) {
  const auto& v = obj.at(name);
  if (!v.is_number_integer())
    throw api_error::bad_request(
      fmt::format("Field {}{} must be an integer", where, name));
  return v.get<std::int64_t>();
}

std::string string_field(const json& obj, std::string_view where,
                         const char* name) {
  const auto& v = obj.at(name);
  if (!v.is_string())
    throw api_error::bad_request(
      fmt::format("Field {}{} must be a string", where, name));
  return v.get<std::string>();
}

retry_options parse_retry(const json& r) {
  constexpr std::string_view where = "options.retry.";
  if (!r.is_object())
    throw api_error::bad_request("Field options.retry must be an object");
  only_fields(r, where,
              {"max_attempts", "base_delay_ms", "multiplier", "max_delay_ms",
               "jitter"});
  retry_options out;
  if (!r.contains("max_attempts"))
    throw api_error::bad_request(
      "Field options.retry.max_attempts is required");
  auto attempts = integer_field(r, where, "max_attempts");
  if (attempts < 0 || attempts > std::numeric_limits<int>::max())
    throw api_error::bad_request(
      "Field options.retry.max_attempts is out of range");
  out.max_attempts = static_cast<int>(attempts);
  if (r.contains("base_delay_ms"))
    out.base_delay = millis{integer_field(r, where, "base_delay_ms")};
  if (r.contains("multiplier")) {
    if (!r.at("multiplier").is_number())
      throw api_error::bad_request(
        "Field options.retry.multiplier must be a number");
    out.multiplier = r.at("multiplier").get<double>();
  }
  if (r.contains("max_delay_ms") && !r.at("max_delay_ms").is_null())
    out.max_delay = millis{integer_field(r, where, "max_delay_ms")};
  if (r.contains("jitter")) {
    auto j = string_field(r, where, "jitter");
    if (j == "none")
      out.jitter = jitter_mode::none;
    else if (j == "full")
      out.jitter = jitter_mode::full;
    else if (j == "equal")
      out.jitter = jitter_mode::equal;
    else
      throw api_error::bad_request(
        "Field options.retry.jitter must be \"none\", \"full\" or \"equal\"");
  }
  return out;
}

enqueue_options parse_options(const json& o) {
  constexpr std::string_view where = "options.";
  if (!o.is_object())
    throw api_error::bad_request("Field options must be an object");
  only_fields(o, where,
              {"timeout_ms", "sleep_before_run_ms", "retry", "idempotency_key",
               "traceparent"});
  enqueue_options out;
  if (o.contains("timeout_ms"))
    out.timeout = millis{integer_field(o, where, "timeout_ms")};
  if (o.contains("sleep_before_run_ms"))
    out.sleep_before_run = millis{
      integer_field(o, where, "sleep_before_run_ms")};
  if (o.contains("retry"))
    out.retry = parse_retry(o.at("retry"));
  if (o.contains("idempotency_key"))
    out.idempotency_key = string_field(o, where, "idempotency_key");
  if (o.contains("traceparent"))
    out.traceparent = string_field(o, where, "traceparent");
  return out;
}

/// Parses all of `text` as an integer, or nullopt.
std::optional<std::int64_t> to_int(std::string_view text) {
  std::int64_t x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return x;
}

std::optional<std::string> single(const query_params& params,
                                  const std::string& name) {
  auto [first, last] = params.equal_range(name);
  if (first == last)
    return std::nullopt;
  if (std::next(first) != last)
    throw api_error::bad_request(
      fmt::format("Query parameter {} is given more than once", name));
  return first->second;
}

constexpr std::size_t max_idempotency_key_length = 255;

/// Takes `header` as `option` unless the body gave the option; a body
/// and a header that differ are an error naming both.
void merge_header(std::optional<std::string>& option,
                  std::optional<std::string> header, std::string_view name,
                  std::string_view option_name) {
  if (!header)
    return;
  if (option && *option != *header)
    throw api_error::bad_request(
      fmt::format("The {} header and options.{} differ", name, option_name));
  option = std::move(header);
}

/// The `options` of an enqueue body, with the headers that stand for them.
enqueue_options enqueue_options_of(const json& body, enqueue_headers headers) {
  enqueue_options out;
  if (body.contains("options") && !body.at("options").is_null())
    out = parse_options(body.at("options"));
  merge_header(out.idempotency_key, std::move(headers.idempotency_key),
               "Idempotency-Key", "idempotency_key");
  merge_header(out.traceparent, std::move(headers.traceparent), "traceparent",
               "traceparent");
  if (out.traceparent)
    if (auto why = trace_context::traceparent_problem(*out.traceparent))
      throw api_error::bad_request(std::move(*why));
  if (const auto& key = out.idempotency_key) {
    if (key->empty() || key->size() > max_idempotency_key_length)
      throw api_error::bad_request(
        "The idempotency key must have 1 to 255 bytes");
    if (auto why = utf8::problem("The idempotency key", *key))
      throw api_error::bad_request(std::move(*why));
  }
  return out;
}

} // namespace

nlohmann::json parse_object(std::string_view body, std::size_t max_depth) {
  if (body.empty())
    return json::object();
  struct too_deep {};
  // nlohmann's parser keeps its own stack (no recursion); the callback
  // sees each object and array start with its depth, before it is built.
  auto limit = [max_depth](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start
         || event == json::parse_event_t::array_start)
        && static_cast<std::size_t>(depth) >= max_depth)
      throw too_deep{};
    return true;
  };
  json j;
  try {
    j = json::parse(body, limit);
  } catch (const too_deep&) {
    throw api_error{400, kind_invalid_json,
                    fmt::format("The JSON body nests deeper than {} levels",
                                max_depth)};
  } catch (const json::parse_error& e) {
    // The byte offset, not nlohmann's message: it would quote the input.
    throw api_error{400, kind_invalid_json,
                    fmt::format("Malformed JSON body at byte {}", e.byte)};
  } catch (const json::out_of_range&) {
    throw api_error{400, kind_invalid_json,
                    "The JSON body has a number out of range (beyond a "
                    "double's)"};
  }
  if (!j.is_object())
    throw api_error::bad_request("The request body must be a JSON object");
  return j;
}

enqueue_request parse_enqueue(const json& body, enqueue_headers headers) {
  only_fields(body, "", {"input", "options"});
  enqueue_request out;
  if (body.contains("input"))
    out.input = dump(body.at("input"));
  out.options = enqueue_options_of(body, std::move(headers));
  return out;
}

enqueue_batch_request parse_enqueue_batch(const json& body,
                                          enqueue_headers headers,
                                          std::size_t max_inputs) {
  only_fields(body, "", {"inputs", "options"});
  const auto it = body.find("inputs");
  if (it == body.end())
    throw api_error::bad_request("Field inputs is required");
  if (!it->is_array())
    throw api_error::bad_request("Field inputs must be an array");
  if (it->empty() || it->size() > max_inputs)
    throw api_error::bad_request(fmt::format(
      "Field inputs must hold 1 to {} inputs, not {}", max_inputs, it->size()));
  enqueue_batch_request out;
  out.inputs.reserve(it->size());
  for (const auto& input : *it)
    out.inputs.push_back(dump(input));
  out.options = enqueue_options_of(body, std::move(headers));
  return out;
}

wake_request parse_wake(const json& body) {
  only_fields(body, "", {"sleeping_id", "output", "error"});
  if (!body.contains("sleeping_id"))
    throw api_error::bad_request("Field sleeping_id is required");
  wake_request out;
  out.sleeping_id = string_field(body, "", "sleeping_id");
  const bool has_output = body.contains("output");
  const bool has_error = body.contains("error");
  if (has_output == has_error)
    throw api_error::bad_request(
      "Exactly one of the fields output and error is required");
  if (has_output)
    out.output = dump(body.at("output"));
  else
    out.error_message = string_field(body, "", "error");
  return out;
}

std::optional<std::int64_t> int_param(const query_params& params,
                                      const std::string& name) {
  auto text = single(params, name);
  if (!text)
    return std::nullopt;
  auto x = to_int(*text);
  if (!x || *x < 0)
    throw api_error::bad_request(
      fmt::format("Query parameter {} must be a non-negative integer", name));
  return x;
}

void check_params(const query_params& params,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : params)
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw api_error::bad_request(
        fmt::format("Unknown query parameter {}", key));
}

execution_filter parse_filter(const query_params& params) {
  execution_filter f;
  if (auto s = single(params, "status")) {
    std::string_view rest = *s;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto name = rest.substr(0, comma);
      auto st = parse_status(name);
      if (!st)
        throw api_error::bad_request(fmt::format(
          "Unknown status {} in query parameter status", std::string{name}));
      f.statuses.push_back(*st);
      rest = comma == std::string_view::npos ? std::string_view{}
                                             : rest.substr(comma + 1);
    }
  }
  f.task_id = single(params, "task_id");
  f.parent_id = single(params, "parent_id");
  if (auto x = int_param(params, "created_from_us"))
    f.created_from = from_micros(*x);
  if (auto x = int_param(params, "created_before_us"))
    f.created_before = from_micros(*x);
  f.root_id = single(params, "root_id");
  f.idempotency_key = single(params, "idempotency_key");
  f.sleeping_id = single(params, "sleeping_id");
  f.error_contains = single(params, "error");
  return f;
}

void check_params(const query_params& params,
                  std::initializer_list<std::string_view> allowed,
                  std::span<const std::string_view> also_allowed) {
  for (const auto& [key, value] : params)
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()
        && std::find(also_allowed.begin(), also_allowed.end(), key)
             == also_allowed.end())
      throw api_error::bad_request(
        fmt::format("Unknown query parameter {}", key));
}

list_request parse_list(const query_params& params) {
  check_params(params, {"limit", "cursor", "order"}, filter_params);
  list_request req;
  req.filter = parse_filter(params);
  if (auto limit = int_param(params, "limit"))
    req.limit = static_cast<std::size_t>(*limit);
  req.cursor = single(params, "cursor").value_or("");
  if (auto order = single(params, "order")) {
    if (*order != "newest" && *order != "oldest")
      throw api_error::bad_request(
        "Query parameter order must be newest or oldest");
    req.oldest_first = *order == "oldest";
  }
  return req;
}

} // namespace durable::nodes::http
