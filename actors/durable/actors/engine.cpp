#include "durable/actors/engine.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/dispatcher.hpp"
#include "durable/actors/janitor.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/storage_actor.hpp"
#include "durable/actors/timer_service.hpp"

namespace durable::actors {

namespace {

engine_event corrupt_row(const store_event& e) {
  engine_event ev;
  ev.kind = engine_event::type::corrupt_row;
  ev.level = engine_event::severity::error;
  ev.execution_id = e.execution_id;
  ev.failure = store_failure::corrupt;
  ev.message = fmt::format("stored execution {} is corrupt: {}", e.execution_id,
                           e.detail);
  return ev;
}

} // namespace

std::uint64_t start_engine(caf::actor_system& sys, const runtime_ptr& rt) {
  // Actors read the handles in `rt` once they run, so the ones that use
  // other actors start lazily and are kicked after every handle is set.
  rt->timers = sys.spawn(timer_service);
  if (rt->detached_io) {
    rt->storage = sys.spawn<caf::detached>(storage_actor, rt);
    rt->inserter = sys.spawn<caf::detached>(storage_actor, rt);
    rt->claimer = sys.spawn<caf::detached>(claim_actor, rt);
    if (rt->options.retention.enabled())
      rt->pruner = sys.spawn<caf::detached>(prune_actor, rt);
  } else {
    rt->storage = sys.spawn(storage_actor, rt);
    rt->inserter = sys.spawn(storage_actor, rt);
    rt->claimer = sys.spawn(claim_actor, rt);
    if (rt->options.retention.enabled())
      rt->pruner = sys.spawn(prune_actor, rt);
  }
  rt->janitor = sys.spawn<caf::lazy_init>(janitor, rt);
  rt->dispatcher = sys.spawn<caf::lazy_init>(dispatcher, rt);
  if (rt->detached_io)
    rt->lease_keeper = sys.spawn<caf::detached + caf::lazy_init>(lease_keeper,
                                                                 rt);
  else
    rt->lease_keeper = sys.spawn<caf::lazy_init>(lease_keeper, rt);
  auto token = rt->db->subscribe(
    [d = rt->dispatcher, r = rt.get()](std::vector<store_event> events) {
      // Corrupt rows are for the operator; the rest is for the dispatcher.
      const auto found = std::stable_partition(
        events.begin(), events.end(), [](const store_event& e) {
          return e.kind != store_event::type::corrupt;
        });
      for (auto i = found; i != events.end(); ++i)
        r->report(corrupt_row(*i));
      events.erase(found, events.end());
      if (!events.empty())
        caf::anon_send(d, events_atom::value, std::move(events));
    });
  caf::anon_send(rt->janitor, poll_atom::value);
  caf::anon_send(rt->dispatcher, poll_atom::value);
  caf::anon_send(rt->lease_keeper, renew_atom::value);
  return token;
}

void stop_engine(const runtime_ptr& rt, std::uint64_t listener_token) {
  rt->db->unsubscribe(listener_token);
  for (auto* a :
       {&rt->dispatcher, &rt->janitor, &rt->lease_keeper, &rt->storage,
        &rt->inserter, &rt->claimer, &rt->pruner, &rt->timers}) {
    // Handles stay set: actors that are still finishing may read them.
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  }
}

} // namespace durable::actors
