#include "sampler.hpp"

namespace durable::bench {

sampler::sampler(std::function<nlohmann::json()> read,
                 std::chrono::milliseconds period)
  : read_{std::move(read)}, period_{period} {
  thread_ = std::thread{[this] {
    const auto t0 = std::chrono::steady_clock::now();
    auto next = t0;
    for (;;) {
      take(t0);
      next += period_;
      std::unique_lock lock{mtx_};
      if (wake_.wait_until(lock, next, [this] { return stop_; })) {
        lock.unlock();
        take(t0); // the end of the last, shorter interval
        return;
      }
    }
  }};
}

sampler::~sampler() {
  if (thread_.joinable())
    finish();
}

void sampler::take(std::chrono::steady_clock::time_point t0) {
  try {
    auto r = read_();
    r["t_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                             - t0)
                 .count();
    std::lock_guard lock{mtx_};
    readings_.push_back(std::move(r));
  } catch (const std::exception&) {
    // A missed reading widens one interval; it does not end the run.
  }
}

std::vector<nlohmann::json> sampler::finish() {
  {
    std::lock_guard lock{mtx_};
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  return std::move(readings_);
}

} // namespace durable::bench
