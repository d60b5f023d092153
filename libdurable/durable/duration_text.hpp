#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "durable/time.hpp"

namespace durable {

/// Parses a duration as operators write it: a whole number followed by a
/// unit, `ms`, `s`, `m`, `h` or `d` (`250ms`, `90s`, `15m`, `24h`, `7d`), or
/// a bare `0`. Nullopt for anything else: no unit (except for 0), a sign,
/// a fraction, spaces, or more than a year (options never hold more; see
/// option_limits). Pure and thread-safe.
std::optional<millis> parse_duration(std::string_view text) noexcept;

/// The shortest text parse_duration() reads back as `d` (`7d`, `90s`,
/// `1500ms`, `0`). For help texts and logs.
std::string format_duration(millis d);

} // namespace durable
