#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

/// Whole-number and true-or-false flags of durable's programs (durable-node,
/// durablectl), refused in words: CLI11's own checks said `Value abc not in
/// range 0.000000 to 1797…` with three hundred digits (NonNegativeNumber), or
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

/// Accepts `true` or `false` (and CLI11's other words for them: `1`/`0`,
/// `yes`/`no`, `on`/`off`); anything else is refused as `-5 is not true or
/// false`, where CLI11 alone would read any number as a flag value.
inline CLI::Validator true_or_false() {
  return CLI::Validator{[](std::string& text) -> std::string {
                          for (std::string_view word :
                               {"true", "false", "1", "0", "yes", "no", "on",
                                "off"})
                            if (text == word)
                              return {};
                          return fmt::format("{} is not true or false", text);
                        },
                        ""};
}

} // namespace durable::nodes
