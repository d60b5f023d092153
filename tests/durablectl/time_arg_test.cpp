// Times on durablectl's command line: ISO-8601, a time ago, microseconds.
#include <chrono>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "durablectl/time_arg.hpp"

namespace {

using namespace std::chrono;
using durablectl::parse_time_arg;

/// 2026-12-07T10:00:00Z in microseconds since the epoch.
constexpr std::int64_t ten_us = 1'796'637'600'000'000;

const system_clock::time_point now{microseconds{ten_us}};

std::int64_t parse(const std::string& text) {
  return parse_time_arg(text, now);
}

} // namespace

TEST_SUITE("durablectl.time_arg") {
  TEST_CASE("ISO-8601 times in UTC, with an offset, or a date alone") {
    CHECK(parse("2026-12-07T10:00:00Z") == ten_us);
    CHECK(parse("2026-12-07t10:00:00z") == ten_us);
    CHECK(parse("2026-12-07T10:00Z") == ten_us);
    CHECK(parse("2026-12-07T11:00:00+01:00") == ten_us);
    CHECK(parse("2026-12-07T11:00:00+0100") == ten_us);
    CHECK(parse("2026-12-07T04:30:00-05:30") == ten_us);
    CHECK(parse("2026-12-07T10:00:00.5Z") == ten_us + 500'000);
    CHECK(parse("2026-12-07T10:00:00.123456Z") == ten_us + 123'456);
    CHECK(parse("2026-12-07T10:00:00.123456789Z") == ten_us + 123'456);
    CHECK(parse("2026-12-07") == ten_us - 10LL * 3600 * 1'000'000);
    CHECK(parse("1970-01-01T00:00:00Z") == 0);
    CHECK(parse("2024-02-29") > 0);
  }

  TEST_CASE("a time ago counts back from now") {
    CHECK(parse("90s") == ten_us - 90'000'000);
    CHECK(parse("30m") == ten_us - 30LL * 60'000'000);
    CHECK(parse("2h") == ten_us - 2LL * 3600'000'000);
    CHECK(parse("7d") == ten_us - 7LL * 86400'000'000);
    CHECK(parse("2w") == ten_us - 14LL * 86400'000'000);
    // The grammar of every duration (durable/duration_text.hpp).
    CHECK(parse("250ms") == ten_us - 250'000);
    CHECK(parse("0s") == ten_us);
  }

  TEST_CASE("a whole number is microseconds since the epoch") {
    CHECK(parse("1796637600000000") == ten_us);
    CHECK(parse("0") == 0);
  }

  TEST_CASE("anything else is refused naming the value and the forms") {
    for (const char* bad :
         {"", "abc", "yesterday", "2h30m", "-2h", "1.5h", "2026-12-07T10:00:00",
          "2026-13-01", "2026-02-30", "2026-12-07T24:00:00Z",
          "2026-12-07T10:60Z", "2026-12-07T10:00:00+25:00",
          "2026-12-07T10:00:00Zjunk", "2026-12-07 10:00:00Z", "2026-12-7", "-5",
          "99999999999w", "2026-12-07T10:00:00.Z"}) {
      INFO("value: " << bad);
      try {
        parse(bad);
        FAIL("the value was accepted");
      } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        CHECK(what.find("\"" + std::string{bad} + "\" is not a time")
              != std::string::npos);
        CHECK(what.find("2026-12-07T10:00:00Z") != std::string::npos);
        CHECK(what.find("7d") != std::string::npos);
        CHECK(what.find("microseconds since the epoch") != std::string::npos);
      }
    }
  }
}
