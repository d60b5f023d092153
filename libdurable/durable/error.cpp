#include "durable/error.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "durable/utf8.hpp"

namespace durable {

namespace {

constexpr std::array<std::string_view, 4> kind_names{"generic", "not_found",
                                                     "timed_out", "cancelled"};

} // namespace

std::string_view to_string(error_kind k) noexcept {
  auto i = static_cast<std::size_t>(k);
  return i < kind_names.size() ? kind_names[i] : "generic";
}

std::optional<error_kind> parse_error_kind(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kind_names.size(); ++i)
    if (kind_names[i] == s)
      return static_cast<error_kind>(i);
  return std::nullopt;
}

void to_json(nlohmann::json& j, const execution_error& e) {
  j = nlohmann::json{{"kind", to_string(e.kind)},
                     {"message", e.message},
                     {"retryable", e.retryable},
                     {"internal", e.internal}};
}

void from_json(const nlohmann::json& j, execution_error& e) {
  e.kind = parse_error_kind(j.value("kind", std::string{"generic"}))
             .value_or(error_kind::generic);
  e.message = j.value("message", std::string{});
  e.retryable = j.value("retryable", false);
  e.internal = j.value("internal", false);
}

error::error(execution_error info)
  : std::runtime_error(info.message), info_(std::move(info)) {
  // The kind decides the flags that the reference fixes per class.
  switch (info_.kind) {
    case error_kind::not_found:
    case error_kind::cancelled:
      info_.retryable = false;
      info_.internal = false;
      break;
    case error_kind::timed_out:
      info_.retryable = true;
      info_.internal = false;
      break;
    case error_kind::generic:
      break;
  }
}

error::error(std::string message, bool retryable, bool internal)
  : error(execution_error{error_kind::generic, std::move(message), retryable,
                          internal}) {}

error error::retryable(std::string message) {
  return error{std::move(message), true, false};
}

error error::non_retryable(std::string message) {
  return error{std::move(message), false, false};
}

error error::internal(std::string message, bool retryable) {
  return error{std::move(message), retryable, true};
}

error error::not_found(std::string message) {
  return error{execution_error{error_kind::not_found, std::move(message)}};
}

error error::timed_out(std::string message) {
  return error{timed_out_error(std::move(message))};
}

error error::cancelled(std::string message) {
  return error{cancelled_error(std::move(message))};
}

execution_error timed_out_error(std::string message) {
  return {error_kind::timed_out, std::move(message), true, false};
}

execution_error cancelled_error(std::string message) {
  return {error_kind::cancelled, std::move(message), false, false};
}

execution_error to_execution_error(std::exception_ptr ep,
                                   std::string_view prefix) {
  execution_error result;
  try {
    std::rethrow_exception(ep);
  } catch (const error& e) {
    result = e.info();
  } catch (const std::exception& e) {
    result = {error_kind::generic, e.what(), true, false};
  } catch (...) {
    result = {error_kind::generic, "Unknown error", true, false};
  }
  if (!prefix.empty())
    result.message = std::string{prefix} + ": " + result.message;
  // what() may quote anything: a file name, a locale's strerror, input.
  result.message = utf8::sanitize(std::move(result.message));
  return result;
}

} // namespace durable
