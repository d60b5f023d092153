#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace durable {

/// The status of an execution.
///
/// `ready -> running -> completed | failed | timed_out | cancelled`; parents
/// add `waiting_for_children -> waiting_for_finalize -> completed |
/// finalize_failed`. The numeric values are stored, so never reorder them.
enum class execution_status : std::uint8_t {
  ready = 0,
  running = 1,
  waiting_for_children = 2,
  waiting_for_finalize = 3,
  completed = 4,
  failed = 5,
  timed_out = 6,
  finalize_failed = 7,
  cancelled = 8,
};

/// The snake_case name of a status, as stored and shown to users.
std::string_view to_string(execution_status s) noexcept;

/// Parses a name produced by to_string(); nullopt for anything else.
std::optional<execution_status> parse_status(std::string_view s) noexcept;

/// True for the five end states.
constexpr bool is_finished(execution_status s) noexcept {
  return s >= execution_status::completed;
}

/// True for the end states other than `completed`.
constexpr bool is_errored(execution_status s) noexcept {
  return s > execution_status::completed;
}

/// True for `ready`, `running` and the two waiting states.
constexpr bool is_active(execution_status s) noexcept {
  return !is_finished(s);
}

} // namespace durable
