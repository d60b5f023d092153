#include "durablectl/time_arg.hpp"

#include <charconv>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "durable/duration_text.hpp"

namespace durablectl {

const std::string_view time_forms
  = "an ISO-8601 time (2026-12-07T10:00:00Z, 2026-12-07T11:00:00+01:00, "
    "2026-12-07), a time ago (90s, 30m, 2h, 7d, 2w) or microseconds since "
    "the epoch";

namespace {

using namespace std::chrono;

/// Reads a fixed number of digits at `pos`; nullopt if they are not there.
std::optional<int> digits(std::string_view s, std::size_t& pos,
                          std::size_t count) {
  if (pos + count > s.size())
    return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

bool take(std::string_view s, std::size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

std::optional<std::int64_t> whole_number(std::string_view s) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value < 0)
    return std::nullopt;
  return value;
}

/// A duration (`90s`, `30m`, `2h`, `7d`, `2w`): that long before `now`. A
/// hundred years back is plenty, and keeps the arithmetic in range.
std::optional<std::int64_t> time_ago(std::string_view s,
                                     system_clock::time_point now) {
  constexpr durable::millis a_century{100LL * 366 * 86'400'000};
  auto ago = durable::parse_duration(s, a_century);
  if (!ago)
    return std::nullopt;
  return duration_cast<microseconds>(now.time_since_epoch() - *ago).count();
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.f…]](Z|±HH:MM|±HHMM)`.
std::optional<std::int64_t> iso_8601(std::string_view s) {
  std::size_t pos = 0;
  auto y = digits(s, pos, 4);
  if (!y || !take(s, pos, '-'))
    return std::nullopt;
  auto mo = digits(s, pos, 2);
  if (!mo || !take(s, pos, '-'))
    return std::nullopt;
  auto d = digits(s, pos, 2);
  if (!d)
    return std::nullopt;
  const year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)},
                            day{static_cast<unsigned>(*d)}};
  if (!date.ok())
    return std::nullopt;
  auto micros = duration_cast<microseconds>(sys_days{date}.time_since_epoch())
                  .count();
  if (pos == s.size())
    return micros;
  if (!take(s, pos, 'T') && !take(s, pos, 't'))
    return std::nullopt;
  auto h = digits(s, pos, 2);
  if (!h || *h > 23 || !take(s, pos, ':'))
    return std::nullopt;
  auto mi = digits(s, pos, 2);
  if (!mi || *mi > 59)
    return std::nullopt;
  int sec = 0;
  std::int64_t fraction_us = 0;
  if (take(s, pos, ':')) {
    auto se = digits(s, pos, 2);
    if (!se || *se > 59)
      return std::nullopt;
    sec = *se;
    if (take(s, pos, '.')) {
      std::int64_t scale = 100'000;
      std::size_t count = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        fraction_us += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
        ++count;
      }
      if (count == 0 || count > 9)
        return std::nullopt;
    }
  }
  micros += ((*h * 60 + *mi) * 60 + sec) * 1'000'000LL + fraction_us;
  // The zone is required: a time without one would be read in whichever
  // zone the operator's shell happens to be in.
  if (take(s, pos, 'Z') || take(s, pos, 'z'))
    return pos == s.size() ? std::optional{micros} : std::nullopt;
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-'))
    return std::nullopt;
  const int sign = s[pos++] == '+' ? 1 : -1;
  auto oh = digits(s, pos, 2);
  take(s, pos, ':');
  auto om = digits(s, pos, 2);
  if (!oh || !om || *oh > 23 || *om > 59 || pos != s.size())
    return std::nullopt;
  // 11:00+01:00 is 10:00 UTC.
  return micros - sign * (*oh * 60 + *om) * 60'000'000LL;
}

} // namespace

std::int64_t parse_time_arg(std::string_view text,
                            system_clock::time_point now) {
  if (auto us = whole_number(text))
    return *us;
  if (auto ago = time_ago(text, now))
    return *ago;
  if (auto iso = iso_8601(text))
    return *iso;
  throw std::invalid_argument(
    fmt::format("{:?} is not a time: expected {}", text, time_forms));
}

} // namespace durablectl
