#pragma once

#include <caf/fwd.hpp>

#include "durable/actors/runtime.hpp"

namespace durable::actors {

/// Owns the node's access to the store for the engine and the facade.
///
/// **Group commit.** Inserts and transitions that arrive while a batch is
/// open are committed together: the first request of a batch sends the
/// actor a `flush` message, which the mailbox delivers after every request
/// already queued. Each row keeps its own guard (see durable::store), so
/// batching never weakens a per-row guarantee.
///
/// **Holding.** Before each commit the actor asks its commit policy
/// (commit_policy.hpp) whether the batch waits one more nap of 25 µs. On
/// its own thread it holds a small batch that ends a child whose siblings
/// were stored claimed by this node and have not all ended yet
/// (hold_for_siblings), up to a quarter of the last commit's time and at
/// most 250 µs, so that a fan-out's children usually end in one commit
/// and their parent waits for one instead of two. A store whose commits
/// take microseconds (memory) is never held, and neither is a batch of 32
/// transitions or more.
///
/// **Blocking.** Store calls may block on I/O, so the actor runs detached
/// (its own thread) unless the runtime says otherwise (deterministic tests).
///
/// Protocol (every reply is sent after the commit it reports):
/// - `(insert, vector<execution_record>)` -> `insert_reply`; or with an
///   `insert_callback` instead of a reply (callable from outside actors);
/// - `(apply, transition)` -> `write_outcome`;
/// - `(claim, claim_request)` -> `claim_result` (the engine sends claims to
///   claim_actor instead; this stays for callers with one handle);
/// - `(fetch, id)`, `(watch, id)` -> `maybe_record`;
/// - `(fetch, vector<id>)` -> `vector<maybe_record>`, in order, in one turn
///   (the dispatcher's re-check of its waiters, rows read back after a
///   failed write); one store read per id;
/// - `(children, parent_id)` -> `vector<execution_record>`;
/// - `(cancel, id)` -> `maybe_record`: cancels an unfinished execution and
///   its unfinished descendants; a finished one is returned unchanged;
/// - `(wake, wake_request)` -> `wake_reply`;
/// - `(expire)` -> `maybe_time`: times out due sleepers, returns the next
///   sleeper deadline;
/// - `(release)` -> `size_t`: hands this node's leases back, and the
///   maintenance role if it held it;
/// - `(handback, ids)` -> `size_t`: hands back those of the rows that this
///   node owns and that are unfinished (transitions::hand_back);
/// - `(erase, id)` -> `bool`;
/// - `(prune, prune_request)` -> `prune_result`: one bounded batch of
///   retention (store::prune); the janitor sends its sweeps to
///   prune_actor instead, this stays for callers with one handle.
/// A store exception becomes a `caf::error` reply (sec::runtime_error with
/// the message); the engine leaves the row to lease expiry.
caf::behavior storage_actor(caf::event_based_actor* self, runtime_ptr rt);

/// Runs the node's claims: `(claim, claim_request)` -> `claim_result`.
///
/// A claim is the dispatcher's only way to new work, so it does not queue
/// behind the storage actor's group commits (an insert of a thousand rows,
/// a batch of transitions): on PostgreSQL it runs on its own pooled
/// connection at the same time. Nothing orders a claim after a write but
/// the write's reply, which the sender sees only after the commit.
/// Detached like the storage actor; errors as there.
caf::behavior claim_actor(caf::event_based_actor* self, runtime_ptr rt);

/// Runs retention's removals: `(prune, prune_request)` -> `prune_result`
/// (store::prune, one bounded batch per message).
///
/// A batch of a thousand trees takes tens of milliseconds on PostgreSQL;
/// on the storage actor it held every transition back meanwhile, and a
/// node finishing executions faster than one sweep removes them fell
/// behind (the table grew and throughput decayed). On its own actor, and
/// on PostgreSQL its own pooled connection, removals run beside the
/// commits. Spawned only when retention is on. Detached like the storage
/// actor; errors as there.
caf::behavior prune_actor(caf::event_based_actor* self, runtime_ptr rt);

} // namespace durable::actors
