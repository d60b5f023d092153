#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/sec.hpp>

#include "durable/error.hpp"
#include "durable/execution_fields.hpp"
#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/status.hpp"
#include "durable/time.hpp"

/// # What crosses the network
///
/// The messages of the executor actor (executor_actor.hpp) travel between
/// processes over CAF's network layer, so every type they hold has an
/// `inspect` overload here (CAF 0.17 signature) and is registered on both
/// sides by register_wire_types() (wire_types.hpp).
///
/// Two rules of CAF 0.17 shape these overloads:
///
/// - **No double reaches CAF's serializer.** CAF bug #1107 turns NaN into
///   -1.0 and loops forever on infinity. The only double of the vocabulary,
///   `retry_options::multiplier`, travels as its IEEE-754 bit pattern
///   (an uint64), so any value round-trips exactly and the receiver's
///   validation (which refuses non-finite multipliers) sees what was sent.
/// - **Types allowed as local-only messages are skipped by serializers.**
///   `durable::timestamp` is such a type for the engine's own messages, so
///   timestamps travel as microseconds since the epoch (an int64).
///
/// Enumerations are checked when loaded: a value out of range fails the
/// deserialization instead of producing an invalid enumerator.
///
/// An execution_record travels as the fields of execution_fields.hpp, in
/// that list's order, each in the form field() gives its type.
namespace durable::actors {

// -- atoms of the executor actor (at most 10 characters in CAF 0.17) --------

/// Tags a request to enqueue executions (executor::enqueue_raw()).
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
/// Tags a request to wait for an execution's end (executor::wait()).
using wait_atom = caf::atom_constant<caf::atom("wait")>;
/// Tags a request to cancel an execution (executor::cancel()).
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// Tags a request to wake a sleeping execution (executor::wake_raw()).
using wake_atom = caf::atom_constant<caf::atom("wake")>;

// -- request and reply types ------------------------------------------------

/// How a sleeping execution is woken from outside.
struct wake_request {
  /// The task the sleeping execution belongs to.
  std::string task_id;
  /// The sleeping execution's unique id: the input it was enqueued with.
  std::string sleeping_id;
  /// The output JSON for a completed wake-up; unset for a failed one.
  std::optional<std::string> output;
  /// The message of a failed wake-up.
  std::string error_message;
};

/// What waiting on an execution with a timeout gives: the finished
/// execution, or nothing when it had not finished in time.
struct wait_reply {
  /// The finished execution; nullopt on timeout.
  std::optional<execution_record> record;
};

} // namespace durable::actors

namespace durable::wire {

/// A timestamp as microseconds since the epoch.
struct time_field {
  /// The timestamp written or loaded.
  timestamp& value;
};

/// An enumeration as its underlying integer, checked against `max` on load.
template <class E>
struct enum_field {
  /// The enumerator written or loaded.
  E& value;
  /// The largest valid enumerator; a larger loaded value is an error.
  E max;
};

/// A std::optional as a flag followed by the value (CAF 0.17 knows only
/// caf::optional).
template <class T>
struct optional_field {
  /// The optional written or loaded (its value in its own wire form).
  std::optional<T>& value;
};

/// A shared_text as a std::optional<std::string> is sent.
struct shared_text_field {
  /// The text written or loaded.
  shared_text& value;
};

/// The form a member takes on the wire: most types as themselves; an
/// enumeration only with the overload that knows its largest value.
template <class T>
requires(!std::is_enum_v<T>) T& field(T& x) noexcept {
  return x;
}

/// A timestamp as microseconds since the epoch.
inline time_field field(timestamp& x) noexcept {
  return {x};
}

/// A std::optional as a flag and the value.
template <class T>
optional_field<T> field(std::optional<T>& x) noexcept {
  return {x};
}

/// A shared_text as an optional string.
inline shared_text_field field(shared_text& x) noexcept {
  return {x};
}

/// An enumeration checked against `max`, its largest enumerator.
template <class E>
enum_field<E> field(E& x, E max) noexcept {
  return {x, max};
}

/// A task_kind, `sleeping` being the largest.
inline enum_field<task_kind> field(task_kind& x) noexcept {
  return {x, task_kind::sleeping};
}

/// An execution_status, `cancelled` being the largest.
inline enum_field<execution_status> field(execution_status& x) noexcept {
  return {x, execution_status::cancelled};
}

/// Writes or loads the timestamp as an int64 of microseconds.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, time_field& x) {
  auto us = to_micros(x.value);
  return f(us, caf::meta::load_callback([&]() -> caf::error {
             x.value = from_micros(us);
             return caf::none;
           }));
}

/// Writes or loads the underlying integer; a loaded value above `max`
/// fails with caf::sec::invalid_argument.
template <class Inspector, class E>
typename Inspector::result_type inspect(Inspector& f, enum_field<E>& x) {
  using underlying = std::underlying_type_t<E>;
  auto raw = static_cast<underlying>(x.value);
  return f(raw, caf::meta::load_callback([&]() -> caf::error {
             if (raw > static_cast<underlying>(x.max))
               return caf::make_error(caf::sec::invalid_argument,
                                      "enumeration value out of range");
             x.value = static_cast<E>(raw);
             return caf::none;
           }));
}

/// Writes or loads a presence flag, then the value when present.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, optional_field<T>& x) {
  if constexpr (Inspector::reads_state) {
    if (!x.value)
      return f(false);
    auto&& v = field(*x.value);
    return f(true, v);
  } else {
    bool present = false;
    if (auto err = f(present))
      return err;
    if (!present) {
      x.value.reset();
      return caf::none;
    }
    T tmp{};
    auto&& v = field(tmp);
    auto err = f(v);
    x.value = std::move(tmp);
    return err;
  }
}

/// Writes or loads the text as an optional_field of std::string.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_text_field& x) {
  auto text = x.value.to_optional();
  optional_field<std::string> as_optional{text};
  if constexpr (Inspector::reads_state) {
    return inspect(f, as_optional);
  } else {
    auto err = inspect(f, as_optional);
    x.value = std::move(text);
    return err;
  }
}

} // namespace durable::wire

namespace durable {

/// An execution_error: kind (checked up to `cancelled`), message,
/// retryable and internal flags.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execution_error& x) {
  using wire::field;
  return f(caf::meta::type_name("durable::execution_error"),
           field(x.kind, error_kind::cancelled), x.message, x.retryable,
           x.internal);
}

/// Retry options, the multiplier as its IEEE-754 bits (see above) and the
/// jitter checked up to `equal`.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_options& x) {
  using wire::field;
  auto bits = std::bit_cast<std::uint64_t>(x.multiplier);
  return f(caf::meta::type_name("durable::retry_options"), x.max_attempts,
           x.base_delay, bits, caf::meta::load_callback([&]() -> caf::error {
             x.multiplier = std::bit_cast<double>(bits);
             return caf::none;
           }),
           field(x.max_delay), field(x.jitter, jitter_mode::equal));
}

/// Enqueue options: retry, sleep before run, timeout, idempotency key and
/// traceparent, each optional.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, enqueue_options& x) {
  using wire::field;
  return f(caf::meta::type_name("durable::enqueue_options"), field(x.retry),
           field(x.sleep_before_run), field(x.timeout),
           field(x.idempotency_key), field(x.traceparent));
}

/// An execution_ref: task id and execution id.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execution_ref& x) {
  return f(caf::meta::type_name("durable::execution_ref"), x.task_id,
           x.execution_id);
}

/// A parent_link: the parent's task and execution ids, the child's index
/// and its two flags.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parent_link& x) {
  return f(caf::meta::type_name("durable::parent_link"), x.task_id,
           x.execution_id, x.index, x.is_only_child, x.is_finalize);
}

/// Every field of fields::all, in its order, each in its wire form.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execution_record& x) {
  return std::apply(
    [&](const auto&... d) {
      return f(caf::meta::type_name("durable::execution_record"),
               wire::field(d.of(x))...);
    },
    fields::all);
}

} // namespace durable

namespace durable::actors {

/// A wake_request, field by field.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wake_request& x) {
  using wire::field;
  return f(caf::meta::type_name("durable::actors::wake_request"), x.task_id,
           x.sleeping_id, field(x.output), x.error_message);
}

/// A wait_reply: its record as an optional_field.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wait_reply& x) {
  using wire::field;
  return f(caf::meta::type_name("durable::actors::wait_reply"),
           field(x.record));
}

} // namespace durable::actors
