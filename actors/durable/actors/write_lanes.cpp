#include "durable/actors/write_lanes.hpp"

namespace durable::actors {

void write_lanes::open(std::size_t count) {
  count_ = count == 0 ? 1 : count;
  lanes_ = std::make_unique<lane[]>(count_);
}

const caf::actor& write_lanes::pick() const noexcept {
  const lane* best = &lanes_[0];
  auto best_since = best->busy_since.load(std::memory_order_relaxed);
  for (std::size_t i = 1; i < count_ && best_since != 0; ++i) {
    auto since = lanes_[i].busy_since.load(std::memory_order_relaxed);
    if (since < best_since) {
      best = &lanes_[i];
      best_since = since;
    }
  }
  return best->actor;
}

void write_lanes::begin(std::size_t i) noexcept {
  lanes_[i].busy_since.store(next_.fetch_add(1, std::memory_order_relaxed),
                             std::memory_order_relaxed);
}

void write_lanes::end(std::size_t i) noexcept {
  lanes_[i].busy_since.store(0, std::memory_order_relaxed);
}

} // namespace durable::actors
