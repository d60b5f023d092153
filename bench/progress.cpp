#include "progress.hpp"

#include <algorithm>
#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

namespace durable::bench {

namespace {

using namespace std::chrono_literals;

constexpr int bar_width = 30;

} // namespace

bool progress_wanted(bool forced) {
  return forced || isatty(STDERR_FILENO) == 1;
}

progress_bar::progress_bar(bool enabled, std::string title,
                           std::function<std::size_t()> done)
  : title_(std::move(title)),
    done_(std::move(done)),
    start_(std::chrono::steady_clock::now()) {
  if (!enabled)
    return;
  thread_ = std::thread{[this] {
    while (!stop_.load()) {
      draw();
      for (int i = 0; i < 4 && !stop_.load(); ++i)
        std::this_thread::sleep_for(50ms);
    }
  }};
}

progress_bar::~progress_bar() {
  stop();
}

void progress_bar::stop() {
  if (!thread_.joinable())
    return;
  stop_.store(true);
  thread_.join();
  draw();
  std::fputs("\n", stderr);
}

void progress_bar::draw() {
  const auto done = done_();
  const auto total = std::max<std::size_t>(total_.load(), 1);
  const auto secs = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start_)
                      .count();
  const auto frac = std::min(1.0, static_cast<double>(done)
                                    / static_cast<double>(total));
  const auto filled = static_cast<int>(frac * bar_width);
  auto line = fmt::format(
    "\r{} [{}{}] {}/{} rows {:5.1f}% {:9.0f}/s {:6.1f}s", title_,
    std::string(filled, '#'), std::string(bar_width - filled, ' '), done, total,
    frac * 100, secs > 0 ? static_cast<double>(done) / secs : 0.0, secs);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

} // namespace durable::bench
