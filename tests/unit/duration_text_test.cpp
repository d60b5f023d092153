// Durations as operators write them (durable-node's --retain-* flags,
// durablectl prune --older-than).
#include <doctest/doctest.h>

#include "durable/duration_text.hpp"

using namespace std::chrono_literals;
using durable::format_duration;
using durable::millis;
using durable::parse_duration;

TEST_SUITE("core.duration_text") {
  TEST_CASE("durations with a unit are read in milliseconds") {
    CHECK(parse_duration("250ms") == millis{250});
    CHECK(parse_duration("90s") == millis{90s});
    CHECK(parse_duration("15m") == millis{15min});
    CHECK(parse_duration("24h") == millis{24h});
    CHECK(parse_duration("7d") == millis{7 * 24h});
    CHECK(parse_duration("0") == millis{0});
    CHECK(parse_duration("0d") == millis{0});
    CHECK(parse_duration("365d") == millis{365 * 24h});
    CHECK(parse_duration("2w") == millis{14 * 24h});
  }

  TEST_CASE("the bound is a year unless the caller names another") {
    CHECK_FALSE(parse_duration("53w").has_value());
    CHECK(parse_duration("53w", millis{400 * 24h}) == millis{371 * 24h});
    CHECK_FALSE(parse_duration("2h", millis{1h}).has_value());
    CHECK(parse_duration("60m", millis{1h}) == millis{1h});
  }

  TEST_CASE("a duration without a known unit or out of range is refused") {
    for (auto text : {"", "7", "60", "d", "7x", "7 d", " 7d", "7d ", "-1h",
                      "+1h", "1.5h", "7D", "1W", "366d", "99999999999999d"})
      CHECK_MESSAGE(!parse_duration(text).has_value(), text);
  }

  TEST_CASE("formatted durations read back as the same duration") {
    CHECK(format_duration(millis{0}) == "0");
    CHECK(format_duration(7 * 24h) == "7d");
    CHECK(format_duration(24h) == "1d");
    CHECK(format_duration(14 * 24h) == "14d");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(millis{1500}) == "1500ms");
    for (auto d : {millis{1}, millis{60'000}, millis{3'600'001}, millis{25h}})
      CHECK(parse_duration(format_duration(d)) == d);
  }
}
