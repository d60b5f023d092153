#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

/// Times given to durablectl on its command line (`list --created-from`):
///
/// - ISO-8601 in UTC or with an offset: `2026-12-07T10:00:00Z`,
///   `2026-12-07T11:00:00+01:00`, `2026-12-07T10:00Z`, fractions of a second
///   down to microseconds; a date alone, `2026-12-07`, is its midnight UTC;
/// - a time ago: a whole number and a unit, `90s`, `30m`, `2h`, `7d`, `2w`;
/// - microseconds since the epoch, `1796637600000000` (what the HTTP API
///   and `--json` output carry).
///
/// Pure functions: no state, safe from any thread.
namespace durablectl {

/// The accepted forms in words, for error messages and `--help`.
extern const std::string_view time_forms;

/// `text` as microseconds since the epoch; a time ago counts back from
/// `now`. @throws std::invalid_argument naming `text` and the accepted
/// forms.
std::int64_t parse_time_arg(std::string_view text,
                            std::chrono::system_clock::time_point now);

} // namespace durablectl
