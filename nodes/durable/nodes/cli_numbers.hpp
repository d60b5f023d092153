#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

/// Whole-number flags of durable's programs (durable-node, durablectl),
/// refused in words: CLI11's own checks said `Value abc not in range
/// 0.000000 to 1797…` with three hundred digits (NonNegativeNumber), or
/// took `-1` for a size as 18446744073709551615.
///
/// Header-only (durablectl does not link durable::nodes); no state, safe
/// from any thread.
namespace durable::nodes {

/// `min to max`, `min or more`.
inline std::string describe_range(std::int64_t min, std::int64_t max) {
  if (max == std::numeric_limits<std::int64_t>::max())
    return fmt::format("{} or more", min);
  return fmt::format("{} to {}", min, max);
}

/// Accepts a whole number from `min` to `max` (in `unit`, if given: "of
/// milliseconds"); anything else is refused as `-3 is not a whole number
/// (1 to 1000)`, which CLI11 prefixes with the flag.
inline CLI::Validator
whole_number(std::int64_t min = 0,
             std::int64_t max = std::numeric_limits<std::int64_t>::max(),
             std::string unit = {}) {
  return CLI::Validator{
    [min, max, unit](std::string& text) -> std::string {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                       n);
      if (ec != std::errc{} || end != text.data() + text.size() || n < min
          || n > max)
        return fmt::format("{} is not a whole number{}{} ({})", text,
                           unit.empty() ? "" : " of ", unit,
                           describe_range(min, max));
      return {};
    },
    ""};
}

} // namespace durable::nodes
