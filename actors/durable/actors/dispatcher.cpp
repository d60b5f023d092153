#include "durable/actors/dispatcher.hpp"

#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "durable/actors/claim_loop.hpp"
#include "durable/actors/dispatcher_waiters.hpp"
#include "durable/actors/event_router.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/new_row_router.hpp"

// The dispatcher's message handlers and the wiring of its pieces: the
// claim loop with its slots (claim_loop.hpp), the waiters
// (dispatcher_waiters.hpp), the new-row router (new_row_router.hpp) and
// the routing of store events and renewals (event_router.hpp). Each piece
// reads the handles it writes to once, here: the engine starts the
// dispatcher lazily, after every handle in the runtime is set.

namespace durable::actors {

namespace {

/// Every piece of one dispatcher. The pieces refer to each other (the
/// router and the event routing use the claim loop, the claim loop asks
/// the router for its hint), so they live and die together here; the
/// behavior's handlers keep it alive.
struct dispatcher_state {
  dispatcher_state(caf::event_based_actor* self, const runtime_ptr& rt)
    : loop(self, rt, rt->claimer),
      waiters(self, rt, rt->storage),
      events(self, rt, rt->janitor, rt->storage, loop, waiters),
      router(make_new_row_router(self, rt, {rt->inserter, rt->storage}, loop)) {
    loop.set_router(router.get());
  }

  claim_loop loop;
  dispatcher_waiters waiters;
  event_router events;
  std::unique_ptr<new_row_router> router;
};

} // namespace

caf::behavior dispatcher(caf::event_based_actor* self, runtime_ptr rt) {
  auto st = std::make_shared<dispatcher_state>(self, rt);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // Before quitting: a promise dropped unanswered would leave its caller
    // (a thread in executor::wait()) blocked, and with it the actor
    // system's destructor.
    st->waiters.shut_down();
    st->loop.stop_all(msg.reason);
    self->quit(msg.reason);
  });
  return {
    [=](poll_atom) { st->loop.poll(); },
    [=](rerun_atom) { st->loop.wake(); },
    [=](events_atom, const std::vector<store_event>& events) {
      st->events.route(events);
    },
    // From a worker thread: the last holder of a blocking body's slot.
    [=](slot_free_atom, bool blocking) { st->loop.free_slot(blocking); },
    // From the execution actor of `id`: the last holder of its slot.
    [=](slot_free_atom, const std::string& id) {
      st->loop.free_slot_of(st->loop.find(id));
    },
    [=](gone_atom, const std::string& id, const caf::actor_addr& addr,
        bool slot_freed) { st->loop.gone(id, addr, slot_freed); },
    [=](renewed_atom, const std::vector<std::string>& renewed,
        std::int64_t started, std::int64_t floor_us) {
      st->events.renewed(renewed, started, floor_us);
    },
    [=](handback_atom) { st->events.handed_back(); },
    [=](watch_atom, const std::string& id) {
      return st->waiters.watch(id, std::nullopt);
    },
    [=](watch_atom, const std::string& id, caf::timespan timeout) {
      return st->waiters.watch(id, timeout);
    },
    [=](unwatch_atom, const std::string& id, std::uint64_t seq) {
      st->waiters.expire(id, seq);
    },
    [=](recheck_atom) { st->waiters.recheck(); },
    // New rows, sent here instead of to the inserter while
    // runtime::local_claims is set.
    [=](insert_atom, std::vector<execution_record>& rows,
        insert_callback& done) {
      st->router->insert(std::move(rows), std::move(done));
    },
    [=](insert_atom,
        std::vector<execution_record>& rows) -> caf::result<insert_reply> {
      return st->router->insert(std::move(rows));
    },
    // A transition inserting children, sent here instead of to the storage
    // actor while runtime::local_claims is set.
    [=](apply_atom, transition& t) -> caf::result<write_outcome> {
      return st->router->apply(std::move(t));
    },
    // A finalize task its parent's actor would run itself.
    [=](take_atom, execution_record& row) -> maybe_record {
      return st->router->take(std::move(row));
    },
    [=](drain_atom) { return st->loop.drain(); },
    [=](stats_atom) { return st->loop.stats(st->waiters.size()); },
  };
}

} // namespace durable::actors
