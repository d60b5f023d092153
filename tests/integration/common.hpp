#pragma once

// Helpers shared by the integration suites: hang guards, fast options and
// short names. Every wait is a hang guard only; nothing here measures time.
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "durable/durable.hpp"

namespace durable::test::common {

using namespace std::chrono_literals;

/// Hang guard only: every wait normally ends in milliseconds.
inline constexpr auto guard = 30s;

/// Options with a short safety-net poll for tests.
inline durable::executor_options fast() {
  return {.worker_threads = 8, .poll_interval = 20ms};
}

/// A status as text, for readable checks.
inline std::string st(durable::execution_status s) {
  return std::string{durable::to_string(s)};
}

/// Waits for the end of `h` (or fails the test after the guard).
template <class Out>
durable::finished<Out> finish(const durable::handle<Out>& h) {
  auto r = h.wait_for(guard);
  REQUIRE(r.has_value());
  return std::move(*r);
}

/// Polls `pred` until it holds or the guard passes.
inline bool eventually(const std::function<bool()>& pred) {
  auto until = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < until) {
    if (pred())
      return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

/// Blocks a body until `flag` is set (bounded by the guard).
inline void block_until(const std::atomic<bool>& flag) {
  auto until = std::chrono::steady_clock::now() + guard;
  while (!flag.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
}

/// Blocks a body until its stop token fires (bounded by the guard).
inline bool block_until(const std::stop_token& token) {
  auto until = std::chrono::steady_clock::now() + guard;
  while (!token.stop_requested() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  return token.stop_requested();
}

/// The durable::error `f` throws, or nullopt if it throws none.
template <class F>
std::optional<durable::error> error_of(F&& f) {
  try {
    f();
  } catch (const durable::error& e) {
    return e;
  }
  return std::nullopt;
}

} // namespace durable::test::common
