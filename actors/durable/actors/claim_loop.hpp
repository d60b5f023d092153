#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>

#include "durable/actors/claim_slots.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/row_lease.hpp"
#include "durable/actors/runtime.hpp"

/// The dispatcher's claim loop: it claims ready work into the node's
/// concurrency slots, spawns one execution actor per claimed row and keeps
/// the slots until the actors free them.
///
/// **Owns** the slot ledger (running bodies, rows taken on insert, the
/// claim in flight, blocking capacity: claim_slots.hpp), the node's live
/// execution actors (`live()`: one per claimed row, by id), the claim's
/// cadence (one claim in flight; again when it returns if work was left
/// behind, when a slot frees while work waits, at a retry's wake-up, on a
/// poll; take-overs of expired leases at most once per renewal interval)
/// and the drain's promises.
///
/// **Slots.** A running body holds one from its claim (start_claimed())
/// until its actor, or the worker thread that lets go last, frees it
/// (free_slot(), free_slot_of(), gone()); a blocking body's counts in the
/// blocking capacity too. Which slot an actor holds (blocking or not) is
/// its live entry's `blocking_slot`: set by its claim, or by the take of a
/// finalize task it runs here (new_row_router.hpp).
///
/// **Hint.** After every change of its slots it publishes whether new rows
/// should come through the dispatcher (runtime::local_claims): the
/// new-row router decides from spare_slots() (set_router()).
///
/// Threading: lives in the dispatcher's state and is called from its actor
/// only; response handlers it installs capture `this` and run on the same
/// actor while it lives. Errors: a claim the store cannot serve is dropped
/// (the next poll claims again); nothing is thrown.
namespace durable::actors {

class new_row_router;

/// An execution actor of this node and when its row was claimed.
struct live_execution {
  caf::actor actor;
  /// steady_nanos() when the claim's result arrived: the claim committed
  /// before then.
  std::int64_t claimed_at = 0;
  /// Shared with the actor: raised by each renewal that finds the row.
  row_lease_ptr lease;
  /// The slot this actor holds, if any, counts in the blocking capacity (a
  /// body of a blocking task: its own, or a finalize task run here).
  bool blocking_slot = false;
};

class claim_loop {
public:
  /// `claimer`: the actor that serves claim requests (runtime::claimer).
  claim_loop(caf::event_based_actor* self, runtime_ptr rt, caf::actor claimer);

  claim_loop(const claim_loop&) = delete;
  claim_loop& operator=(const claim_loop&) = delete;

  /// The router whose hint update_hint() publishes; set once at wiring.
  void set_router(const new_row_router* router) noexcept {
    router_ = router;
  }

  // -- claims -----------------------------------------------------------------

  /// Claims up to min(claim_batch_size, free slots) rows now, or once the
  /// claim in flight returned.
  void claim();

  /// The safety-net poll: claims, with a take-over if one is due.
  void poll();

  /// Work is ready at `at`: claim now, or wake up then.
  void on_ready(timestamp at);

  /// The wake-up set for future work came.
  void wake();

  /// The next claim also takes over expired leases (a resync, leases
  /// handed back, rows given back after failed writes).
  void take_over_next() noexcept {
    take_over_ = true;
  }

  // -- execution actors -------------------------------------------------------

  /// Spawns the execution actor of a row this node claimed (at `at`), or,
  /// if an actor of the row still runs here, tells it the row was claimed
  /// again and starts the row once it is gone. `lease`: what this node knew
  /// of the row's lease before (its last actor's), if anything.
  void start_claimed(execution_record row, std::int64_t at,
                     row_lease_ptr lease = nullptr);

  std::unordered_map<std::string, live_execution>& live() noexcept {
    return live_;
  }

  live_execution* find(const std::string& id);

  /// A body's slot is free (`blocking`: one counted in the blocking
  /// capacity): claims more if work was left behind.
  void free_slot(bool blocking);

  /// The slot the execution actor of live entry `x` held is free: a
  /// blocking one if the entry says so. Null (an actor no longer here)
  /// frees a plain one.
  void free_slot_of(live_execution* x);

  /// The execution actor of `id` (at `addr`) ended, having freed its slot
  /// with this message if `slot_freed`; a reclaimed row waiting for it
  /// starts now.
  void gone(const std::string& id, const caf::actor_addr& addr,
            bool slot_freed);

  /// Ends every execution actor with `reason` (the dispatcher stops).
  void stop_all(const caf::error& reason);

  // -- rows taken on insert (for the new-row router) --------------------------

  /// Slots new rows may take: none unless the node runs tasks and is not
  /// draining; its free slots while its last claim left no ready work
  /// behind; otherwise all but one claim batch of them, so rows waiting in
  /// the store keep their room and new ones never starve them.
  std::size_t spare_slots() const noexcept;

  /// The tasks of the node, refreshed.
  const task_kinds& kinds();

  slot_ledger& slots() noexcept {
    return slots_;
  }

  /// Taken rows' writes answered and stored ones started: a drain may end,
  /// work left behind may be claimed.
  void after_adopt();

  /// Publishes whether new rows should come through the dispatcher.
  void update_hint();

  // -- drain and counters -----------------------------------------------------

  /// Stops claiming; the promise is answered `true` once no claim is in
  /// flight, no body runs and no taken row waits for its write.
  caf::response_promise drain();

  bool draining() const noexcept {
    return draining_;
  }

  /// Answers the drain's promises if it ended.
  void check_drained();

  void count_lost_lease() noexcept {
    ++leases_lost_;
  }

  engine_stats stats(std::size_t waiters) const;

private:
  bool take_over_due() const;
  void schedule_wake(timestamp at);
  /// A claim passed over a due row that another transaction held locked
  /// (claim_result::next_ready_at): claims again after 1 ms, 16 times in
  /// a row, then doubling the gap up to the poll interval, so that a row
  /// held by a long transaction costs a few claims, not a busy loop.
  void retry_skipped();

  caf::event_based_actor* self_;
  runtime_ptr rt_;
  caf::actor claimer_;
  const new_row_router* router_ = nullptr;
  slot_ledger slots_;
  task_kinds kinds_;
  claim_rounds rounds_;
  std::unordered_map<std::string, live_execution> live_;
  /// Rows a claim took again while their previous actor still runs here
  /// (start_claimed()): each starts when that actor is gone.
  std::unordered_map<std::string, execution_record> reclaimed_;
  bool claiming_ = false;
  /// A claim left blocking work out for want of blocking room: claim
  /// again when a blocking slot frees.
  bool blocking_waits_ = false;
  /// Work may be left behind: claim again when a claim ends or a slot
  /// frees. True until the first claim shows otherwise, so that until then
  /// new rows leave a claim batch of slots to rows already in the store
  /// (spare_slots()).
  bool backlog_ = true;
  /// Work may have come in while a claim was in flight: claim again when
  /// it ends. Unlike `backlog_`, no reason to think older rows wait.
  bool rerun_ = false;
  /// The next claim also takes over expired leases (claim_request::
  /// take_over): set at start, by a poll at most once per lease renewal
  /// interval (take_over_due()), by a resync and when another node hands
  /// leases back, not by the announcements of new work.
  bool take_over_ = true;
  /// When (the store's clock) a claim last looked for expired leases.
  std::optional<timestamp> took_over_at_;
  bool draining_ = false;
  /// The earliest time a wake-up for future work is set for.
  std::optional<timestamp> wake_at_;
  /// Claims in a row that passed over a due row (retry_skipped()).
  unsigned skipped_in_a_row_ = 0;
  std::vector<caf::response_promise> drained_;
  std::uint64_t claimed_ = 0;
  std::uint64_t claims_ = 0;
  std::uint64_t leases_lost_ = 0;
};

} // namespace durable::actors
