#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "durable/actors/runtime.hpp"
#include "durable/store.hpp"

/// Where what the store and the lease keeper report goes, on the
/// dispatcher.
///
/// **Store events** (`(events, vector<store_event>)`, route()): ready work
/// to the claim loop (a `work_ready` without an execution id: leases
/// handed back, so the next claim takes over); a finished child to its
/// parent's execution actor if it lives here (with the stored row when
/// this process committed it), and a finished watched execution to its
/// waiters; a cancel of a row this node owns to the actor that runs it; a
/// sleeper's deadline to the janitor; a resync (announcements may have
/// been lost) to everyone who listens: a claim with take-over, every live
/// actor, the janitor and every waiter.
///
/// **Renewals** (`(renewed, ids, started, floor)`, renewed()): each row
/// the renewal found is this node's until at least `floor` (its
/// row_lease is confirmed); a row claimed before the renewal started that
/// it did not find is lost (another node took it over after this node's
/// lease expired): its actor is told at once (`lost`). Rows the node owns
/// with no actor here are handed back after two renewals in a row found
/// them so (sweep_orphans()).
///
/// **Owns** only the orphan suspects; the live actors are the claim
/// loop's, the waits the waiters'. Threading: lives in the dispatcher's
/// state, called from its actor only; response handlers capture `this`.
/// Errors: a hand-back the store refuses is dropped (the next renewal
/// finds the rows again).
namespace durable::actors {

class claim_loop;
class dispatcher_waiters;

class event_router {
public:
  /// `janitor`: sleeper deadlines and expiry after a resync
  /// (runtime::janitor); `storage`: hand-backs (runtime::storage).
  event_router(caf::event_based_actor* self, runtime_ptr rt, caf::actor janitor,
               caf::actor storage, claim_loop& loop,
               dispatcher_waiters& waiters);

  event_router(const event_router&) = delete;
  event_router& operator=(const event_router&) = delete;

  void route(const std::vector<store_event>& events);

  /// The lease keeper's renewal that started at `started` (steady_nanos())
  /// found `renewed` owned by this node until at least `floor_us`.
  void renewed(const std::vector<std::string>& renewed, std::int64_t started,
               std::int64_t floor_us);

  /// An execution actor gave its row back after a failed write: claim it
  /// (or let another node) without waiting for the next poll.
  void handed_back();

  std::uint64_t orphans_handed_back() const noexcept {
    return orphans_handed_back_;
  }

private:
  void resync();
  void sweep_orphans(const std::vector<std::string>& renewed);

  caf::event_based_actor* self_;
  runtime_ptr rt_;
  caf::actor janitor_;
  caf::actor storage_;
  claim_loop& loop_;
  dispatcher_waiters& waiters_;
  /// Rows the last renewal found owned by this node with no execution
  /// actor here (see sweep_orphans()).
  std::unordered_set<std::string> orphan_suspects_;
  std::uint64_t orphans_handed_back_ = 0;
};

} // namespace durable::actors
