#include "durable/actors/timer_service.hpp"

#include <map>
#include <unordered_map>

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"

namespace durable::actors {

namespace {

struct timer_entry {
  caf::actor_clock::time_point due;
  caf::actor target;
  caf::message msg;
};

struct timer_state {
  std::multimap<caf::actor_clock::time_point, std::uint64_t> by_due;
  std::unordered_map<std::uint64_t, timer_entry> entries;
  /// When the pending wake-up of the service fires (max() if none).
  caf::actor_clock::time_point next_wake = caf::actor_clock::time_point::max();
};

void schedule_wake(caf::event_based_actor* self,
                   const std::shared_ptr<timer_state>& st) {
  if (st->by_due.empty())
    return;
  auto due = st->by_due.begin()->first;
  if (due >= st->next_wake)
    return;
  st->next_wake = due;
  auto delay = due - self->clock().now();
  if (delay.count() < 0)
    delay = caf::timespan{0};
  self->delayed_send(self, delay, timer_fire_atom::value);
}

void fire_due(caf::event_based_actor* self,
              const std::shared_ptr<timer_state>& st) {
  auto now = self->clock().now();
  while (!st->by_due.empty() && st->by_due.begin()->first <= now) {
    auto token = st->by_due.begin()->second;
    st->by_due.erase(st->by_due.begin());
    auto i = st->entries.find(token);
    if (i == st->entries.end())
      continue; // cancelled
    auto entry = std::move(i->second);
    st->entries.erase(i);
    self->send(entry.target, std::move(entry.msg));
  }
}

} // namespace

caf::behavior timer_service(caf::event_based_actor* self) {
  auto st = std::make_shared<timer_state>();
  return {
    [=](timer_set_atom, std::uint64_t token, caf::timespan delay,
        caf::actor target, caf::message msg) {
      auto due = self->clock().now() + delay;
      st->entries.emplace(token,
                          timer_entry{due, std::move(target), std::move(msg)});
      st->by_due.emplace(due, token);
      if (delay.count() <= 0) {
        fire_due(self, st);
        return;
      }
      schedule_wake(self, st);
    },
    [=](timer_cancel_atom, std::uint64_t token) {
      auto i = st->entries.find(token);
      if (i == st->entries.end())
        return;
      auto range = st->by_due.equal_range(i->second.due);
      for (auto j = range.first; j != range.second; ++j)
        if (j->second == token) {
          st->by_due.erase(j);
          break;
        }
      st->entries.erase(i);
    },
    [=](timer_fire_atom) {
      // Several wake-ups may be pending after earlier deadlines arrived;
      // each fires what is due and re-arms for the next deadline.
      if (self->clock().now() >= st->next_wake)
        st->next_wake = caf::actor_clock::time_point::max();
      fire_due(self, st);
      schedule_wake(self, st);
    },
  };
}

} // namespace durable::actors
