#pragma once

#include <chrono>
#include <cstdint>

namespace durable {

/// A point in time as the store sees it: wall-clock time with microsecond
/// resolution (PostgreSQL's `timestamptz` resolution). Every comparison of
/// start times, leases and deadlines uses the store's clock, never a node's.
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// Option durations are milliseconds, as in the reference implementation.
using millis = std::chrono::milliseconds;

/// The current wall-clock time of this process.
timestamp system_now() noexcept;

/// Microseconds since the epoch, for storage and JSON.
constexpr std::int64_t to_micros(timestamp t) noexcept {
  return t.time_since_epoch().count();
}

/// The inverse of to_micros().
constexpr timestamp from_micros(std::int64_t us) noexcept {
  return timestamp{std::chrono::microseconds{us}};
}

} // namespace durable
