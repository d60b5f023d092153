#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "durable/actors/row_lease.hpp"
#include "durable/actors/task_registry.hpp"
#include "durable/actors/worker_pool.hpp"
#include "durable/observer.hpp"
#include "durable/options.hpp"
#include "durable/retry.hpp"
#include "durable/store.hpp"

namespace durable::actors {

/// The store role (store::try_lead) of the node that expires sleepers.
inline constexpr const char* maintenance_role = "maintenance";

/// What every actor of one executor shares: the store, the tasks, the
/// options, the incarnation id and the handles of the service actors.
///
/// Threading: fields are set before the first actor starts and only read
/// afterwards, except `next_timer_token` and `local_claims` (atomics) and
/// `shutdown` (a std::stop_source, itself thread-safe).
struct runtime {
  std::shared_ptr<durable::store> db;
  std::shared_ptr<task_registry> tasks;
  executor_options options;
  /// Owner of every lease this node takes; new at each start.
  std::string incarnation;
  std::shared_ptr<worker_pool> workers;
  std::stop_source shutdown;
  random_source random = default_random;
  /// Spawn I/O actors detached (own threads). Off only under CAF's
  /// deterministic test coordinator, where every actor must be scheduled.
  bool detached_io = true;
  std::atomic<std::uint64_t> next_timer_token{1};
  /// Set by the dispatcher while it may store new rows already claimed by
  /// this node (it has free slots to spare, see dispatcher.hpp): new rows
  /// (enqueues, children) then go through it instead of straight to the
  /// inserter or the storage actor. Only a hint; the dispatcher checks again.
  std::atomic<bool> local_claims{false};
  /// The store's clock (store::now(), which never blocks): the one time
  /// the engine stamps rows with and compares leases and deadlines to.
  /// Thread-safe.
  timestamp now() const {
    return db->now();
  }

  /// Whether the row whose lease is `lease` may no longer be this node's:
  /// what this node knows of its lease does not cover the store's now plus
  /// a margin of an eighth of a lease (clock estimates, the time until the
  /// body runs). A body must not start then: another node may have taken
  /// the row over. Reads the store's clock estimate (no round trip);
  /// thread-safe.
  bool lease_may_have_passed(const row_lease& lease) const;

  /// Tells options.observer (if any) about `e`; an exception it throws is
  /// dropped. Thread-safe.
  void report(const engine_event& e) const noexcept;

  caf::actor storage;
  /// Enqueues (new top-level rows) are group-committed by a storage actor
  /// of their own, so they run beside the engine's transitions instead of
  /// taking turns with them; its protocol is storage_actor's.
  caf::actor inserter;
  /// Claims run on their own actor (see claim_actor), beside `storage`.
  caf::actor claimer;
  /// Retention's removals run on their own actor (see prune_actor),
  /// beside `storage`; unset when retention is off.
  caf::actor pruner;
  caf::actor timers;
  caf::actor dispatcher;
  caf::actor janitor;
  caf::actor lease_keeper;

  /// Where new top-level rows go: the dispatcher while `local_claims` is
  /// set (it answers as the inserter does), else the inserter.
  const caf::actor& new_rows_sink() const noexcept {
    return local_claims.load(std::memory_order_relaxed) ? dispatcher : inserter;
  }

  /// The delay from the store's now until `at` (zero if past).
  caf::timespan delay_until(timestamp at) const;

  /// Asks the timer service to send `msg` to `target` after `delay`;
  /// returns the token that cancels it.
  std::uint64_t set_timer(const caf::actor& target, caf::timespan delay,
                          caf::message msg);

  /// A token for a timer set later with set_timer(token, …), possibly on
  /// another thread: who sets the timer and who may cancel it agree on the
  /// token first. A cancel that reaches the timer service before its set
  /// leaves the set to fire later, to a target that then ignores it.
  std::uint64_t new_timer_token() noexcept {
    return next_timer_token.fetch_add(1, std::memory_order_relaxed);
  }

  /// Sets the timer of a token from new_timer_token(). Thread-safe.
  void set_timer(std::uint64_t token, const caf::actor& target,
                 caf::timespan delay, caf::message msg);

  void cancel_timer(std::uint64_t token);
};

using runtime_ptr = std::shared_ptr<runtime>;

/// The steady clock in nanoseconds: orders events across this node's
/// threads (never compared with the store's clock or another node's).
inline std::int64_t steady_nanos() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

} // namespace durable::actors
