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
/// with `is_retryable() == false`; any other exception is retryable (a plain
/// exception is assumed to be transient), and cancellation is never retried.
namespace durable {

/// What kind of error an execution ended with. Stored; never reorder.
enum class error_kind : std::uint8_t {
  generic = 0,   ///< any other failure; its flags say what to do next
  not_found = 1, ///< an unknown task, execution or sleeping id; never retried
  timed_out = 2, ///< a run or a sleep outlived its timeout; retryable
  cancelled = 3, ///< cancelled from outside or with its tree; never retried
};

/// The kind's stored name: "generic", "not_found", "timed_out",
/// "cancelled" (an out-of-range value: "generic").
std::string_view to_string(error_kind k) noexcept;
/// The kind named `s` as to_string() spells it; unset for any other text.
std::optional<error_kind> parse_error_kind(std::string_view s) noexcept;

/// The stored form of an error: what the previous attempt saw, what a failed
/// execution ended with.
struct execution_error {
  /// What kind of failure it was.
  error_kind kind = error_kind::generic;
  /// What went wrong, for people: valid UTF-8 once stored.
  std::string message;
  /// Another attempt may succeed: the execution is retried while its
  /// retry policy allows.
  bool retryable = false;
  /// A failure inside durable or its store rather than in the caller's
  /// request or the body's logic; the HTTP API answers it with 500 and
  /// shows no detail.
  bool internal = false;

  /// Equal when every field is.
  friend bool operator==(const execution_error&, const execution_error&)
    = default;
};

/// JSON form of an execution_error: `{"kind": "...", "message": "...",
/// "retryable": bool, "internal": bool}`; missing keys read as generic,
/// empty and false, an unknown kind as generic.
///@{
void to_json(nlohmann::json& j, const execution_error& e);
void from_json(const nlohmann::json& j, execution_error& e);
///@}

/// The exception type of durable: thrown by the facade for refused calls and
/// by task bodies to control how their failure is recorded.
class error : public std::runtime_error {
public:
  // -- constructors ---------------------------------------------------------

  /// An error with `info`'s kind and message. The kind fixes the flags
  /// of not_found and cancelled (neither retryable nor internal) and of
  /// timed_out (retryable, not internal); a generic error keeps `info`'s.
  explicit error(execution_error info);

  /// A generic error; non-retryable unless said otherwise (as the reference).
  explicit error(std::string message, bool retryable = false,
                 bool internal = false);

  // -- factories ------------------------------------------------------------

  /// A generic error that the execution's retry policy may retry.
  static error retryable(std::string message);
  /// A generic error that ends the execution at once.
  static error non_retryable(std::string message);
  /// A generic error flagged internal: a failure of durable or its store,
  /// not of the request (HTTP 500).
  static error internal(std::string message, bool retryable = false);
  /// A refused call about something that does not exist (HTTP 404).
  static error not_found(std::string message);
  /// A timeout: retryable.
  static error timed_out(std::string message = "Task execution timed out");
  /// A cancellation: never retried.
  static error cancelled(std::string message = "Task execution cancelled");

  // -- properties -----------------------------------------------------------

  /// The error as it is stored.
  const execution_error& info() const noexcept {
    return info_;
  }

  /// The error's kind.
  error_kind kind() const noexcept {
    return info_.kind;
  }

  /// True when another attempt may succeed (execution_error::retryable).
  bool is_retryable() const noexcept {
    return info_.retryable;
  }

  /// True for a failure of durable or its store
  /// (execution_error::internal).
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

/// The stored error of a timeout: retryable, not internal.
execution_error
timed_out_error(std::string message = "Task execution timed out");
/// The stored error of a cancellation: neither retryable nor internal.
execution_error
cancelled_error(std::string message = "Task execution cancelled");

} // namespace durable
