#include "durable/stored_ranges.hpp"

#include <cmath>
#include <utility>

#include <fmt/format.h>

namespace durable::stored_ranges {

namespace {

/// check() for any integer type, compared without conversions (a version
/// is unsigned, most columns signed).
template <class T>
std::optional<std::string> check_value(std::string_view field, T value,
                                       range r) {
  if (std::cmp_greater_equal(value, r.min) && std::cmp_less_equal(value, r.max))
    return std::nullopt;
  return fmt::format("{} {} is out of range ({}..{})", field, value, r.min,
                     r.max);
}

/// Calls `stop(field, value, range)` for each integer of `r` but its
/// version (times in microseconds), in column order, until one returns
/// true; returns whether one did. Out of line of the message: a row in
/// range costs only the comparisons (every insert and write checks one).
template <class Stop>
bool each_integer(const execution_record& r, Stop&& stop) {
  auto time = [&stop](const char* field,
                      const std::optional<timestamp>& t) {
    return t && stop(field, to_micros(*t), time_us);
  };
  return stop("kind", static_cast<int>(r.kind), kind)
         || stop("retry_max_attempts", r.retry.max_attempts,
                 retry_max_attempts)
         || stop("retry_base_delay_ms", r.retry.base_delay.count(),
                 retry_base_delay_ms)
         || (r.retry.max_delay
             && stop("retry_max_delay_ms", r.retry.max_delay->count(),
                     retry_max_delay_ms))
         || stop("retry_jitter", static_cast<int>(r.retry.jitter),
                 retry_jitter)
         || stop("sleep_before_run_ms", r.sleep_before_run.count(),
                 sleep_before_run_ms)
         || stop("timeout_ms", r.timeout.count(), timeout_ms)
         || stop("attempt", r.attempt, attempt)
         || stop("recoveries", r.recoveries, recoveries)
         || time("lease_expires_at", r.lease_expires_at)
         || stop("start_at", to_micros(r.start_at), time_us)
         || stop("created_at", to_micros(r.created_at), time_us)
         || stop("updated_at", to_micros(r.updated_at), time_us)
         || time("started_at", r.started_at)
         || time("expires_at", r.expires_at)
         || time("waiting_for_children_started_at",
                 r.waiting_for_children_started_at)
         || time("waiting_for_finalize_started_at",
                 r.waiting_for_finalize_started_at)
         || time("finished_at", r.finished_at)
         || time("closed_at", r.closed_at);
}

/// Every number of `r` but its version.
std::optional<std::string> check_row(const execution_record& r) {
  std::optional<std::string> found;
  each_integer(r, [&found](const char* field, std::int64_t value,
                           range in) {
    if (value >= in.min && value <= in.max)
      return false;
    found = check_value(field, value, in);
    return true;
  });
  if (found)
    return found;
  const auto& retry = r.retry;
  // NaN compares false both ways: it is out of range too.
  if (!(retry.multiplier >= option_limits::min_multiplier
        && retry.multiplier <= option_limits::max_multiplier))
    return fmt::format("retry_multiplier {} is out of range ({}..{})",
                       retry.multiplier, option_limits::min_multiplier,
                       option_limits::max_multiplier);
  if (retry.max_delay && *retry.max_delay < retry.base_delay)
    return fmt::format("retry_max_delay_ms {} is below retry_base_delay_ms "
                       "{}",
                       retry.max_delay->count(), retry.base_delay.count());
  return std::nullopt;
}

} // namespace

std::optional<std::string> check(std::string_view field, std::int64_t value,
                                 range r) {
  return check_value(field, value, r);
}

std::optional<std::string> problem(const execution_record& r) {
  if (auto p = check_value("version", r.version, version))
    return p;
  return check_row(r);
}

std::optional<std::string> problem(const transition& t) {
  // The store writes `expected_version + 1`, whatever `next.version` says.
  if (t.expected_version >= static_cast<std::uint64_t>(version.max))
    return fmt::format("version {} leaves no room for one more write "
                       "(0..{})",
                       t.expected_version, version.max);
  if (auto p = check_row(t.next))
    return p;
  for (const auto& child : t.children)
    if (auto p = problem(child))
      return fmt::format("child {}: {}", child.id, *p);
  return std::nullopt;
}

std::string refused_message(std::string_view problem) {
  return fmt::format("Execution cannot be stored: {}", problem);
}

std::optional<insert_outcome> refused_insert(const execution_record& r) {
  auto p = problem(r);
  if (!p)
    return std::nullopt;
  return insert_outcome{.result = insert_outcome::kind::refused,
                        .execution_id = r.id,
                        .reason = refused_message(*p)};
}

std::optional<std::string> refused_write(const transition& t) {
  auto p = problem(t);
  if (!p)
    return std::nullopt;
  return refused_message(*p);
}

std::string invalid_message(std::string_view problem) {
  return fmt::format("Stored execution is invalid: {}", problem);
}

} // namespace durable::stored_ranges
