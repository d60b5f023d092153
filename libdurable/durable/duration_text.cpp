#include "durable/duration_text.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <utility>

#include <fmt/format.h>

namespace durable {

namespace {

// Largest unit first, so that format_duration() picks the shortest text
// (weeks excepted: it starts at days).
constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> units{{
  {"w", 7 * 86'400'000},
  {"d", 86'400'000},
  {"h", 3'600'000},
  {"m", 60'000},
  {"s", 1'000},
  {"ms", 1},
}};

} // namespace

std::optional<millis> parse_duration(std::string_view text,
                                     millis max) noexcept {
  if (text == "0")
    return millis{0};
  std::int64_t n = 0;
  const auto* first = text.data();
  const auto* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, n);
  if (ec != std::errc{} || end == first || n < 0 || *first == '-')
    return std::nullopt;
  const std::string_view unit{end, static_cast<std::size_t>(last - end)};
  for (const auto& [name, ms] : units)
    if (unit == name) {
      if (n > max.count() / ms)
        return std::nullopt;
      return millis{n * ms};
    }
  return std::nullopt;
}

std::string format_duration(millis d) {
  const auto ms = d.count();
  if (ms == 0)
    return "0";
  for (const auto& [name, size] : units)
    if (name != "w" && ms % size == 0)
      return fmt::format("{}{}", ms / size, name);
  return fmt::format("{}ms", ms);
}

} // namespace durable
