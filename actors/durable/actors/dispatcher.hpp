#pragma once

#include <caf/fwd.hpp>

#include "durable/actors/runtime.hpp"

namespace durable::actors {

/// Claims ready work for this node and routes what the store announces.
///
/// Its pieces, each with its own contract: the claim loop with the slots
/// (claim_loop.hpp, its arithmetic in claim_slots.hpp), the new-row router
/// (new_row_router.hpp, local_take.hpp), the routing of store events and
/// renewals (event_router.hpp) and the waiters (dispatcher_waiters.hpp).
/// This function wires them to the messages below.
///
/// **Claims.** Whenever work may be ready (a `work_ready` event, a retry
/// coming due, a freed slot while work was left behind, the safety-net poll)
/// it claims up to `min(claim_batch_size, free slots)` executions of the
/// tasks this node registered, in one store call, with at most one claim in
/// flight. It spawns one execution actor per claimed row. Only running
/// bodies hold slots (see takes_slot()). The claim also takes executions
/// whose owner's lease expired, so recovery needs no separate scan.
///
/// **Taking new rows locally** (executor_options::claim_on_insert). While
/// it has free slots to spare (all of them if its last claim left no ready
/// work behind, else all but one claim batch), it publishes
/// runtime::local_claims, and new rows come through it: enqueues
/// as `(insert, rows[, callback])` (answered like the inserter) and
/// transitions that insert children as `(apply, transition)` (answered like
/// the storage actor). The rows it can start at once (ready, due, of its
/// tasks, up to the slots to spare) are stored already claimed by this node
/// (store_rules::claim), hold a slot while their write is in flight, and
/// get their execution actor when it committed, as claimed rows do. A new
/// row then starts one commit after its enqueue, with no claim. A parent's
/// actor that would run its finalize task itself asks with
/// `(take, row)` -> `maybe_record`: the row as claimed by this node, which
/// then counts as a running body until the actor frees its slot, or
/// nothing if there is no slot to spare.
///
/// **Routing.** Store events arrive as `(events, vector<store_event>)`: a
/// finished child is pushed to its parent's supervisor if it lives here, a
/// cancel to the execution actor that runs it, a sleeper deadline to the
/// janitor, and a finished watched execution to everyone waiting on it.
///
/// **Waiters** (waiter_registry). `(watch, id[, timeout])` -> `maybe_record`
/// once the execution finished; errors: durable's not-found if it does not
/// exist, `request_timeout` when `timeout` passed, durable's "Executor shut
/// down while waiting" when the dispatcher stops (its exit handler answers
/// every waiter, so no caller is left blocked). Ends come from `finished`
/// events and, for those never announced, from a re-check: every
/// `poll_interval` while anyone waits, one batched read of up to 100
/// watched rows, those read longest ago first (so each is read within
/// `ceil(watched / 100)` intervals).
///
/// Protocol besides events and waits: `(drain)` -> `bool`
/// once claiming stopped and no body runs; `(stats)` -> `engine_stats`;
/// `(slotfree)`, `(gone, id, addr)` from execution actors.
caf::behavior dispatcher(caf::event_based_actor* self, runtime_ptr rt);

} // namespace durable::actors
