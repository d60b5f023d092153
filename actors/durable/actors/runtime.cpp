#include "durable/actors/runtime.hpp"

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"

namespace durable::actors {

caf::timespan runtime::delay_until(timestamp at) const {
  auto d = at - now();
  if (d.count() <= 0)
    return caf::timespan{0};
  return std::chrono::duration_cast<caf::timespan>(d);
}

std::uint64_t runtime::set_timer(const caf::actor& target, caf::timespan delay,
                                 caf::message msg) {
  auto token = new_timer_token();
  set_timer(token, target, delay, std::move(msg));
  return token;
}

void runtime::set_timer(std::uint64_t token, const caf::actor& target,
                        caf::timespan delay, caf::message msg) {
  caf::anon_send(timers, timer_set_atom::value, token, delay, target,
                 std::move(msg));
}

bool runtime::lease_may_have_passed(const row_lease& lease) const {
  const auto margin = std::chrono::duration_cast<std::chrono::microseconds>(
    options.lease_duration / 8);
  return now() + margin >= lease.confirmed_until();
}

void runtime::report(const engine_event& e) const noexcept {
  if (!options.observer)
    return;
  try {
    options.observer(e);
  } catch (...) {
    // An observer that fails must not take the engine's thread with it.
  }
}

void runtime::cancel_timer(std::uint64_t token) {
  caf::anon_send(timers, timer_cancel_atom::value, token);
}

} // namespace durable::actors
