#include "durable/utf8.hpp"

#include <fmt/format.h>

namespace durable::utf8 {

namespace {

/// The length of the well-formed sequence at `s[i]`, or 0 with `bad` set
/// to the length of its maximal ill-formed subpart (at least 1). The
/// second byte's range excludes overlongs (E0, F0), surrogates (ED) and
/// code points above U+10FFFF (F4), as in the Unicode standard's table 3-7.
std::size_t sequence_at(std::string_view s, std::size_t i,
                        std::size_t& bad) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 != 0 && b0 < 0x80)
    return 1;
  std::size_t tail = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    tail = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    tail = 2;
    if (b0 == 0xE0)
      lo = 0xA0;
    else if (b0 == 0xED)
      hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    tail = 3;
    if (b0 == 0xF0)
      lo = 0x90;
    else if (b0 == 0xF4)
      hi = 0x8F;
  } else { // NUL, a stray continuation byte, C0, C1, F5..FF
    bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k <= tail; ++k) {
    if (i + k >= s.size()) {
      bad = k;
      return 0;
    }
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < lo || b > hi) {
      bad = k;
      return 0;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  return tail + 1;
}

} // namespace

std::optional<std::size_t> find_invalid(std::string_view s) noexcept {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto n = sequence_at(s, i, bad);
    if (n == 0)
      return i;
    i += n;
  }
  return std::nullopt;
}

std::string sanitize(std::string s) {
  const auto first = find_invalid(s);
  if (!first)
    return s;
  std::string out;
  out.reserve(s.size() + 2 * replacement_character.size());
  out.append(s, 0, *first);
  std::string_view v{s};
  std::size_t bad = 0;
  for (std::size_t i = *first; i < v.size();) {
    if (const auto n = sequence_at(v, i, bad); n > 0) {
      out.append(v.substr(i, n));
      i += n;
    } else {
      out.append(replacement_character);
      i += bad;
    }
  }
  return out;
}

std::optional<std::string> problem(std::string_view what, std::string_view s) {
  const auto at = find_invalid(s);
  if (!at)
    return std::nullopt;
  if (s[*at] == '\0')
    return fmt::format("{} contains a NUL byte [offset={}]", what, *at);
  return fmt::format("{} is not valid UTF-8 [offset={}]", what, *at);
}

} // namespace durable::utf8
