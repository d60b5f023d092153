#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "durable/time.hpp"

namespace durable {

/// The longest duration parse_duration() accepts unless told otherwise:
/// 365 days, the most any option holds (see option_limits).
inline constexpr millis one_year{31'536'000'000};

/// Parses a duration as operators write it: a whole number followed by a
/// unit, `ms`, `s`, `m`, `h`, `d` or `w` (`250ms`, `90s`, `15m`, `24h`,
/// `7d`, `2w`), or a bare `0`. Nullopt for anything else: no unit (except
/// for 0), a sign, a fraction, spaces, or more than `max`. The one grammar
/// of every duration a program of durable reads (durable-node's
/// `--retain-*`, durablectl's `--older-than` and times ago such as
/// `--created-from 2h`). Pure and thread-safe.
std::optional<millis> parse_duration(std::string_view text,
                                     millis max = one_year) noexcept;

/// The shortest text parse_duration() reads back as `d` (`7d`, `90s`,
/// `1500ms`, `0`), in days at most (never weeks: `14d`, not `2w`). For
/// help texts and logs.
std::string format_duration(millis d);

} // namespace durable
