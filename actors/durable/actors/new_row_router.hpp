#pragma once

#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/result.hpp>

#include "durable/actors/messages.hpp"
#include "durable/actors/runtime.hpp"

/// Where the dispatcher sends the new rows that reach it: enqueues as
/// `(insert, rows[, callback])` (answered as the inserter answers) and
/// transitions that insert children as `(apply, transition)` (answered as
/// the storage actor answers), and what it says to `(take, row)` for a
/// finalize task a parent's actor would run itself.
///
/// One interface, two implementations, chosen once by
/// executor_options::claim_on_insert (make_new_row_router()):
///
/// - **plain** (`false`): rows go to the inserter or the storage actor
///   unchanged (delegated: those answer the sender themselves), no take
///   succeeds, and no new row is asked to come through the dispatcher
///   (takes_new_rows() is false, so runtime::local_claims stays unset).
/// - **local claims** (`true`): the rows the node can start at once
///   (ready, due, of its tasks, within claim_loop::spare_slots() and the
///   blocking room for takes: local_take.hpp) are stored already claimed
///   by this node. Each holds a reserved slot while its write is in
///   flight; once the write answered, the stored ones get their execution
///   actor (claim_loop::start_claimed()) and every reservation is given
///   back. A write whose outcome is unknown (an error reply) is read back:
///   rows stored as taken start, the others give their slots back. A take
///   turns the finalize row's reservation into a running body at once,
///   held by the parent's actor (its live entry's `blocking_slot` for a
///   blocking finalize task), which frees it as its own.
///
/// Threading: owned by the dispatcher's state, called from its actor only;
/// its response handlers capture `this` and the dispatcher's pieces and
/// run on that actor. Errors: none of its own; the inserter's or the
/// storage actor's errors reach the sender unchanged.
namespace durable::actors {

class claim_loop;

class new_row_router {
public:
  virtual ~new_row_router();

  /// Whether new rows should come through the dispatcher, given the slots
  /// it has to spare (published as runtime::local_claims).
  virtual bool takes_new_rows(std::size_t spare_slots) const noexcept = 0;

  /// `(insert, rows, callback)`: `done` gets the inserter's reply.
  virtual void insert(std::vector<execution_record> rows, insert_callback done)
    = 0;

  /// `(insert, rows)` -> insert_reply.
  virtual caf::result<insert_reply>
  insert(std::vector<execution_record> rows) = 0;

  /// `(apply, transition)` -> write_outcome.
  virtual caf::result<write_outcome> apply(transition t) = 0;

  /// `(take, row)` -> the row as claimed by this node, now a running body
  /// held by its parent's actor, or nothing.
  virtual maybe_record take(execution_record row) = 0;
};

/// The handles a router writes through.
struct new_row_sinks {
  /// runtime::inserter: enqueued rows.
  caf::actor inserter;
  /// runtime::storage: transitions, and reads of rows in doubt.
  caf::actor storage;
};

/// The router of executor_options::claim_on_insert (plain or local
/// claims); `loop` outlives it.
std::unique_ptr<new_row_router>
make_new_row_router(caf::event_based_actor* self, const runtime_ptr& rt,
                    new_row_sinks sinks, claim_loop& loop);

} // namespace durable::actors
