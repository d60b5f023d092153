#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>

#include <doctest/doctest.h>

#include "durable/retry.hpp"

namespace durable::test {

namespace {

// may_retry is usable at compile time.
static_assert(may_retry(retry_options{1, {}, 1.0, {}, {}}, true, 0));
static_assert(!may_retry(retry_options{1, {}, 1.0, {}, {}}, true, 1));

retry_options policy(std::int64_t base, double multiplier,
                     std::optional<std::int64_t> max = std::nullopt,
                     jitter_mode jitter = jitter_mode::none) {
  retry_options r;
  r.max_attempts = 1000;
  r.base_delay = millis{base};
  r.multiplier = multiplier;
  if (max)
    r.max_delay = millis{*max};
  r.jitter = jitter;
  return r;
}

random_source fixed(double value) {
  return [value] { return value; };
}

constexpr millis one_thousand_days{86'400'000LL * 1000};

} // namespace

TEST_SUITE("core.retry") {
  TEST_CASE("the first retry waits base_delay") {
    CHECK_EQ(retry_delay(policy(1500, 2.0), 0), millis{1500});
    CHECK_EQ(retry_delay(policy(1500, 10.0), 0), millis{1500});
    CHECK_EQ(retry_delay(policy(0, 2.0), 0), millis{0});
  }

  TEST_CASE("the delay grows geometrically with the retries so far") {
    auto r = policy(100, 2.0);
    CHECK_EQ(retry_delay(r, 1), millis{200});
    CHECK_EQ(retry_delay(r, 2), millis{400});
    CHECK_EQ(retry_delay(r, 3), millis{800});
    CHECK_EQ(retry_delay(r, 10), millis{102'400});
  }

  TEST_CASE("the delay is capped at max_delay") {
    auto r = policy(100, 2.0, 500);
    CHECK_EQ(retry_delay(r, 2), millis{400});
    CHECK_EQ(retry_delay(r, 3), millis{500});
    CHECK_EQ(retry_delay(r, 20), millis{500});
  }

  TEST_CASE("a multiplier below 1 shrinks the delay") {
    auto r = policy(1000, 0.5);
    CHECK_EQ(retry_delay(r, 1), millis{500});
    CHECK_EQ(retry_delay(r, 2), millis{250});
    CHECK_EQ(retry_delay(r, 1000), millis{0});
  }

  TEST_CASE("fractional delays are rounded to the nearest millisecond") {
    auto r = policy(3, 1.5);
    CHECK_EQ(retry_delay(r, 1), millis{5}); // 4.5
    CHECK_EQ(retry_delay(r, 2), millis{7}); // 6.75
  }

  TEST_CASE("a huge retry count gives a finite bounded delay") {
    auto r = policy(1000, 10.0);
    auto d = retry_delay(r, 1000);
    CHECK_GT(d, millis{86'400'000});
    CHECK_LE(d, one_thousand_days);
    CHECK_EQ(retry_delay(r, INT_MAX), d);
    CHECK_EQ(retry_delay(policy(3'600'000, 10.0), 1000), d);
  }

  TEST_CASE("a huge retry count is capped at max_delay") {
    auto r = policy(1000, 10.0, 86'400'000);
    CHECK_EQ(retry_delay(r, 1000), millis{86'400'000});
    CHECK_EQ(retry_delay(r, INT_MAX), millis{86'400'000});
  }

  TEST_CASE("a zero base_delay never waits however many retries") {
    CHECK_EQ(retry_delay(policy(0, 10.0), 400), millis{0});
    CHECK_EQ(retry_delay(policy(0, 10.0), 1000), millis{0});
    CHECK_EQ(retry_delay(policy(0, 10.0, 60'000), 1000), millis{0});
  }

  TEST_CASE("a negative retry count is treated as the first retry") {
    CHECK_EQ(retry_delay(policy(100, 2.0), -3), millis{100});
    CHECK_EQ(retry_delay(policy(100, 2.0), INT_MIN), millis{100});
  }

  TEST_CASE("without jitter the random source is never drawn") {
    int draws = 0;
    random_source counting = [&draws] {
      ++draws;
      return 0.0;
    };
    CHECK_EQ(retry_delay(policy(800, 2.0), 1, counting), millis{1600});
    CHECK_EQ(draws, 0);
  }

  TEST_CASE("full jitter draws the delay from zero to the full delay") {
    auto r = policy(1000, 2.0, std::nullopt, jitter_mode::full);
    CHECK_EQ(retry_delay(r, 0, fixed(0.0)), millis{0});
    CHECK_EQ(retry_delay(r, 0, fixed(0.5)), millis{500});
    CHECK_EQ(retry_delay(r, 1, fixed(0.25)), millis{500});
    CHECK_EQ(retry_delay(r, 0, fixed(0.999999)), millis{1000});
    CHECK_EQ(retry_delay(policy(100'000, 1.0, std::nullopt, jitter_mode::full),
                         0, fixed(0.9999)),
             millis{99'990});
  }

  TEST_CASE("equal jitter draws the delay from half to the full delay") {
    auto r = policy(1000, 2.0, std::nullopt, jitter_mode::equal);
    CHECK_EQ(retry_delay(r, 0, fixed(0.0)), millis{500});
    CHECK_EQ(retry_delay(r, 0, fixed(0.5)), millis{750});
    CHECK_EQ(retry_delay(r, 1, fixed(0.0)), millis{1000});
    CHECK_EQ(retry_delay(r, 0, fixed(0.999999)), millis{1000});
  }

  TEST_CASE("jitter applies after the cap at max_delay") {
    auto full = policy(1000, 2.0, 3000, jitter_mode::full);
    CHECK_EQ(retry_delay(full, 5, fixed(0.5)), millis{1500});
    auto equal = policy(1000, 2.0, 3000, jitter_mode::equal);
    CHECK_EQ(retry_delay(equal, 5, fixed(0.0)), millis{1500});
  }

  TEST_CASE("the default random source draws from 0 up to but excluding 1") {
    double lo = 1.0;
    double hi = 0.0;
    for (int i = 0; i < 10'000; ++i) {
      auto x = default_random();
      REQUIRE_GE(x, 0.0);
      REQUIRE_LT(x, 1.0);
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    CHECK_LT(lo, 0.01);
    CHECK_GT(hi, 0.99);
  }

  TEST_CASE("max_attempts counts retries so a task runs 1 + max_attempts "
            "times") {
    auto r = policy(0, 1.0);
    r.max_attempts = 3;
    int runs = 1;
    while (may_retry(r, true, runs - 1))
      ++runs;
    CHECK_EQ(runs, 4);
    r.max_attempts = 0;
    CHECK_FALSE(may_retry(r, true, 0));
  }

  TEST_CASE("a non-retryable failure is never retried") {
    auto r = policy(0, 1.0);
    r.max_attempts = 1000;
    for (int k : {0, 1, 999})
      CHECK_FALSE(may_retry(r, false, k));
  }

} // TEST_SUITE

} // namespace durable::test
