#include "durable/actors/runtime.hpp"

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"

namespace durable::actors {

caf::timespan runtime::delay_until(timestamp at) const {
  auto d = at - db->now();
  if (d.count() <= 0)
    return caf::timespan{0};
  return std::chrono::duration_cast<caf::timespan>(d);
}

std::uint64_t runtime::set_timer(const caf::actor& target,
                                 caf::timespan delay, caf::message msg) {
  auto token = next_timer_token.fetch_add(1, std::memory_order_relaxed);
  caf::anon_send(timers, timer_set_atom::value, token, delay, target,
                 std::move(msg));
  return token;
}

void runtime::cancel_timer(std::uint64_t token) {
  caf::anon_send(timers, timer_cancel_atom::value, token);
}

} // namespace durable::actors
