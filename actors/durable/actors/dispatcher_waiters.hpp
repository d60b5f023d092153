#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

#include "durable/actors/runtime.hpp"
#include "durable/actors/waiter_registry.hpp"

/// The dispatcher's side of waits for executions' ends: the actor half of
/// waiter_registry (which keeps who waits for what and ends each wait
/// once).
///
/// It registers `(watch, id[, timeout])` and answers it with a promise:
/// `maybe_record` once the execution finished; durable's not-found if it
/// does not exist; `request_timeout` when the timeout passed (its timer
/// sends `(unwatch, id, seq)`); durable's "Executor shut down while
/// waiting" at shut_down(); a runtime_error with the store's message when
/// the store could not be asked. Ends come from `finished` events
/// (finished(), routed by event_router.hpp) and, for those never
/// announced, from a re-check: every poll_interval while anyone waits, one
/// batched read of up to waiter_registry::default_recheck_batch watched
/// rows, those read longest ago first.
///
/// **Owns** the registry and its timers (cancelled when a wait ends
/// otherwise). Threading: lives in the dispatcher's state and is called
/// from its actor only; its response handlers capture `this` and run on
/// that actor. Every promise is answered exactly once, also at shutdown,
/// so no caller (a thread in executor::wait()) is left blocked.
namespace durable::actors {

class dispatcher_waiters {
public:
  /// `storage`: the actor that reads rows (runtime::storage).
  dispatcher_waiters(caf::event_based_actor* self, runtime_ptr rt,
                     caf::actor storage);

  dispatcher_waiters(const dispatcher_waiters&) = delete;
  dispatcher_waiters& operator=(const dispatcher_waiters&) = delete;

  /// `(watch, id[, timeout])`: registers a waiter, answered from the
  /// store's announcements or the re-check, or at once if it finished.
  caf::response_promise watch(const std::string& id,
                              std::optional<caf::timespan> timeout);

  /// `(unwatch, id, seq)`: the timer of wait `seq` fired.
  void expire(const std::string& id, std::uint64_t seq);

  /// `(recheck)`: one tick of the re-check.
  void recheck();

  /// A `finished` event for `id`: answers its waiters with `row`, or with
  /// a read of it when the event came without one.
  void finished(const std::string& id,
                const std::shared_ptr<const execution_record>& row);

  /// Announcements may have been lost: reads every watched row again.
  void resync();

  /// Answers every waiter as shut down (the dispatcher stops).
  void shut_down();

  std::size_t size() const noexcept {
    return registry_.size();
  }

private:
  void fetch(const std::string& id);
  void arm_recheck_timer();

  caf::event_based_actor* self_;
  runtime_ptr rt_;
  caf::actor storage_;
  waiter_registry registry_;
};

} // namespace durable::actors
