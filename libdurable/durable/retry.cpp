#include "durable/retry.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace durable {

namespace {

// 10^1000 overflows a double; so does any delay beyond a day by far. Clamp
// the exponent, then the product, before converting to an integer.
constexpr int max_exponent = 1000;
constexpr double max_delay_ms = 86'400'000.0 * 1000.0;

} // namespace

double default_random() noexcept {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(gen);
}

millis retry_delay(const retry_options& r, int retries_so_far,
                   const random_source& rnd) {
  auto k = std::clamp(retries_so_far, 0, max_exponent);
  // A zero base stays zero: 0 * pow(10, 1000) would be 0 * inf = NaN.
  double delay = 0.0;
  if (r.base_delay.count() > 0) {
    delay = static_cast<double>(r.base_delay.count())
            * std::pow(r.multiplier, k);
    if (!std::isfinite(delay) || delay > max_delay_ms)
      delay = max_delay_ms;
  }
  if (r.max_delay)
    delay = std::min(delay, static_cast<double>(r.max_delay->count()));
  switch (r.jitter) {
    case jitter_mode::none:
      break;
    case jitter_mode::full:
      delay *= rnd();
      break;
    case jitter_mode::equal:
      delay = delay / 2 + delay / 2 * rnd();
      break;
  }
  return millis{static_cast<millis::rep>(std::llround(delay))};
}

} // namespace durable
