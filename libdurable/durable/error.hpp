#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

/// # The error model of durable
///
/// Two kinds of failure reach users:
///
/// - **Execution errors** end or retry an execution. They are stored with the
///   execution as an `execution_error` (kind, message, retryable, internal)
///   and kept as JSON so that other languages can read them.
/// - **API errors** are thrown by the facade (`durable::error`) when a call is
///   refused: invalid options, unknown task, oversize input, shutdown. A
///   refused call never changes a stored execution.
///
/// Both use the same four kinds and the reference implementation's messages.
/// A stored message is always valid UTF-8: whatever a body threw, invalid
/// bytes become U+FFFD before the error reaches a store (utf8.hpp), so one
/// odd message never fails the commit of other executions.
/// A task body signals a non-retryable failure by throwing `durable::error`
/// with `retryable() == false`; any other exception is retryable (a plain
/// exception is assumed to be transient), and cancellation is never retried.
namespace durable {

/// What kind of error an execution ended with. Stored; never reorder.
enum class error_kind : std::uint8_t {
  generic = 0,
  not_found = 1,
  timed_out = 2,
  cancelled = 3,
};

std::string_view to_string(error_kind k) noexcept;
std::optional<error_kind> parse_error_kind(std::string_view s) noexcept;

/// The stored form of an error: what the previous attempt saw, what a failed
/// execution ended with.
struct execution_error {
  error_kind kind = error_kind::generic;
  std::string message;
  bool retryable = false;
  bool internal = false;

  friend bool operator==(const execution_error&, const execution_error&)
    = default;
};

void to_json(nlohmann::json& j, const execution_error& e);
void from_json(const nlohmann::json& j, execution_error& e);

/// The exception type of durable: thrown by the facade for refused calls and
/// by task bodies to control how their failure is recorded.
class error : public std::runtime_error {
public:
  // -- constructors ---------------------------------------------------------

  explicit error(execution_error info);

  /// A generic error; non-retryable unless said otherwise (as the reference).
  explicit error(std::string message, bool retryable = false,
                 bool internal = false);

  // -- factories ------------------------------------------------------------

  static error retryable(std::string message);
  static error non_retryable(std::string message);
  static error internal(std::string message, bool retryable = false);
  static error not_found(std::string message);
  static error timed_out(std::string message = "Task execution timed out");
  static error cancelled(std::string message = "Task execution cancelled");

  // -- properties -----------------------------------------------------------

  const execution_error& info() const noexcept {
    return info_;
  }

  error_kind kind() const noexcept {
    return info_.kind;
  }

  bool is_retryable() const noexcept {
    return info_.retryable;
  }

  bool is_internal() const noexcept {
    return info_.internal;
  }

private:
  execution_error info_;
};

/// Converts whatever a task body threw into the stored error form: a
/// `durable::error` keeps its kind and flags, any other exception becomes a
/// retryable generic error with its `what()`, anything else a retryable
/// "Unknown error". `prefix`, when not empty, is put before the message.
/// The message is made storable text (utf8.hpp): invalid UTF-8 and NUL
/// bytes become U+FFFD.
execution_error to_execution_error(std::exception_ptr ep,
                                   std::string_view prefix = {});

/// Builds the error for a timeout, cancellation or not-found.
execution_error
timed_out_error(std::string message = "Task execution timed out");
execution_error
cancelled_error(std::string message = "Task execution cancelled");

} // namespace durable
