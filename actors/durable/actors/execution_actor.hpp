#pragma once

#include <caf/event_based_actor.hpp>

#include "durable/actors/row_lease.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/execution_record.hpp"

namespace durable::actors {

/// Whether a claimed row takes one of the node's concurrency slots: only a
/// body about to run does (tasks and parent tasks in `running`). Sequences,
/// loops and adopted waiting parents take none, so deep or recursive trees
/// never deadlock on the concurrency limit.
bool takes_slot(const execution_record& r) noexcept;

/// Spawns the actor that carries one claimed execution to its next resting
/// point: it runs the body (on the worker pool, or inline for non-blocking
/// tasks), enforces the timeout, persists the outcome, and, for parents,
/// sequences and loops, stays on as the supervisor that reacts to its
/// children's ends (pushed by the dispatcher) until the parent finishes.
///
/// A parent that stored its children itself runs its finalize task on this
/// actor, before the finalize row is stored, when the dispatcher gives it a
/// slot (`(take, row)`): the finalize's outcome and the parent's end are
/// then stored in one transition (transitions::finalize_ran).
///
/// Every write is a guarded transition; a write that loses (the execution was
/// cancelled, or another node took it over) ends the actor and drops its
/// stale view. The cancel token of the body fires on cancel, on timeout,
/// and whenever the actor ends before the body returned (a lost lease is
/// noticed at the next write, which conflicts); a late result of a body
/// that outlived its deadline is discarded.
///
/// Messages: `(bodydone, body_outcome)`, `(timeout)`, `(cancel)`,
/// `(childdone, child_id, finished_row)` (a supervisor that has every
/// awaited child's row reads none back), `(recheck)`. It frees its slot
/// with `(slotfree, id)` (a worker thread that lets go of it last sends
/// `(slotfree, true)`: a blocking body's), and on its end it sends the
/// dispatcher `(gone, id, address, slot_freed)`.
///
/// `lease` is what the node knows of the row's lease (row_lease.hpp): no
/// body whose outcome is written against the row, inline, on the worker
/// pool or a finalize run here, starts once it may have passed.
caf::actor spawn_execution(caf::event_based_actor* spawner, runtime_ptr rt,
                           execution_record row, row_lease_ptr lease);

} // namespace durable::actors
