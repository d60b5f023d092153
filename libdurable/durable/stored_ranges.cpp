#include "durable/stored_ranges.hpp"

#include <cmath>
#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "durable/execution_fields.hpp"

namespace durable::stored_ranges {

namespace {

/// check() for any integer type, compared without conversions (a version
/// is unsigned, most columns signed).
template <class T>
std::optional<std::string>
check_value(std::string_view field, T value, range r) {
  if (std::cmp_greater_equal(value, r.min) && std::cmp_less_equal(value, r.max))
    return std::nullopt;
  return fmt::format("{} {} is out of range ({}..{})", field, value, r.min,
                     r.max);
}

// The integer a field holds (times in microseconds), if set.

std::optional<std::int64_t> number_of(task_kind k) {
  return static_cast<int>(k);
}

std::optional<std::int64_t> number_of(millis d) {
  return d.count();
}

std::optional<std::int64_t> number_of(int x) {
  return x;
}

std::optional<std::int64_t> number_of(std::uint32_t x) {
  return x;
}

std::optional<std::int64_t> number_of(timestamp t) {
  return to_micros(t);
}

std::optional<std::int64_t> number_of(const std::optional<timestamp>& t) {
  if (!t)
    return std::nullopt;
  return to_micros(*t);
}

template <class T>
concept numeric = requires(const T& x) {
  number_of(x);
};

/// The integers of a retry policy, by their column names.
template <class Stop>
bool retry_integers(const retry_options& r, Stop& stop) {
  return stop("retry_max_attempts", r.max_attempts, retry_max_attempts)
         || stop("retry_base_delay_ms", r.base_delay.count(),
                 retry_base_delay_ms)
         || (r.max_delay
             && stop("retry_max_delay_ms", r.max_delay->count(),
                     retry_max_delay_ms))
         || stop("retry_jitter", static_cast<int>(r.jitter), retry_jitter);
}

/// Calls `stop(field, value, range)` for each integer of `r` that has a
/// range (execution_fields.hpp) but its version, in field order, until
/// one returns true; returns whether one did. Out of line of the message:
/// a row in range costs only the comparisons (every insert and write
/// checks one).
template <class Stop>
bool each_integer(const execution_record& r, Stop&& stop) {
  return fields::any_of([&](const auto& f) {
    using type = fields::type_of<decltype(f)>;
    const auto& x = f.of(r);
    if constexpr (std::is_same_v<type, retry_options>) {
      return retry_integers(x, stop);
    } else if constexpr (numeric<type>) {
      if (!f.range)
        return false;
      auto n = number_of(x);
      return n && stop(f.name, *n, *f.range);
    } else {
      // No number with a range, or the version (the one std::uint64_t,
      // without a number_of()): checked apart, see problem().
      return false;
    }
  });
}

/// Every number of `r` but its version.
std::optional<std::string> check_row(const execution_record& r) {
  std::optional<std::string> found;
  each_integer(r,
               [&found](std::string_view field, std::int64_t value, range in) {
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
