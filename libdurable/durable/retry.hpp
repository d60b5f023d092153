#pragma once

#include <functional>

#include "durable/options.hpp"

namespace durable {

/// A source of uniform random numbers in [0, 1). Injectable so that tests
/// fix jitter; the default draws from a thread-local generator.
using random_source = std::function<double()>;

/// The default random source (thread-safe: one generator per thread).
double default_random() noexcept;

/// The delay before the retry that follows `retries_so_far` earlier retries:
/// `base_delay * multiplier^retries_so_far`, capped at `max_delay`, then
/// jittered. The power is clamped so that it cannot overflow.
millis retry_delay(const retry_options& r, int retries_so_far,
                   const random_source& rnd = default_random);

/// Whether a failure with `retryable` set may be retried after
/// `retries_so_far` earlier retries.
constexpr bool may_retry(const retry_options& r, bool retryable,
                         int retries_so_far) noexcept {
  return retryable && retries_so_far < r.max_attempts;
}

} // namespace durable
