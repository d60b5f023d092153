#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>

/// A progress bar on stderr while a run works.
namespace durable::bench {

/// True if stderr is a terminal or `forced`.
bool progress_wanted(bool forced);

/// Redraws one line on stderr every 200 ms from its own thread:
/// `[#####     ] done/total rows  rate/s  elapsed`. `done` is called from
/// that thread and must be thread-safe. Disabled: does nothing at all.
class progress_bar {
public:
  progress_bar(bool enabled, std::string title,
               std::function<std::size_t()> done);
  ~progress_bar();

  progress_bar(const progress_bar&) = delete;
  progress_bar& operator=(const progress_bar&) = delete;

  /// The count the bar fills up to (it may grow, e.g. per sustained round).
  void set_total(std::size_t total) {
    total_ = total;
  }

  /// Stops redrawing and ends the line. Idempotent.
  void stop();

private:
  void draw();

  std::string title_;
  std::function<std::size_t()> done_;
  std::atomic<std::size_t> total_{0};
  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point start_;
  std::thread thread_;
};

} // namespace durable::bench
