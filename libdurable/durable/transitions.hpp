#pragma once

#include <optional>
#include <string>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/store.hpp"

/// The state machine of an execution as pure functions: each takes the row
/// as last read (with its version) and returns the guarded transition that
/// moves it on. Nothing here touches a store, a clock or a thread; the
/// engine applies the result and drops its view if the write conflicts.
///
/// The row is taken by value: it becomes the transition's `next`, so a
/// caller that no longer needs its copy moves it in and nothing is copied.
///
/// An error a transition stores (fail_run, finish and those built on them)
/// has its message made storable text first (utf8.hpp: invalid UTF-8 and
/// NUL become U+FFFD), whoever built it. Outputs and inputs are not
/// touched here: the engine refuses them before (utf8.hpp has the rule).
namespace durable::transitions {

/// `running` -> `completed` with `output` (JSON text).
transition complete(execution_record r, std::string output, timestamp now);

/// A failed run: back to `ready` after `delay` when the error is retryable
/// and retries remain (attempt + 1, error kept for the next attempt);
/// otherwise `timed_out`, `cancelled` or `failed` by the error's kind.
transition fail_run(execution_record r, execution_error e, timestamp now,
                    millis delay);

/// A run of `r`'s body returned (a task's, or a finalize task's run beside
/// its parent): failed with `error` (fail_run(), after `delay`), or done
/// with `output` ("null" if none), which completes `r` unless no store may
/// take it (payload_problem(): over `max_output_bytes` or not storable
/// text); then `r` fails, never retried, as the same output would fail
/// again.
transition run_returned(execution_record r, std::optional<std::string> output,
                        std::optional<execution_error> error,
                        std::size_t max_output_bytes, millis delay,
                        timestamp now);

/// Ends `r` in `status` (an end state) with an output or an error. A parent
/// that ends not-completed cancels its unfinished descendants.
transition finish(execution_record r, execution_status status,
                  std::optional<std::string> output,
                  std::optional<execution_error> e, timestamp now);

/// `running` -> `waiting_for_children`, inserting `children`.
transition
wait_for_children(execution_record r, std::optional<std::string> run_output,
                  std::vector<execution_record> children, timestamp now);

/// -> `waiting_for_finalize`, inserting the finalize child. A parent that
/// spawned no children gets `waiting_for_children_started_at` too, the
/// same `now` (as the reference's).
transition wait_for_finalize(execution_record r,
                             std::optional<std::string> run_output,
                             execution_record finalize_child, timestamp now);

/// A parent whose finalize task already ran once on the parent's node,
/// before its row was stored (see docs/design.md, "A finalize task runs
/// beside its parent"): `finalize` is that row after the run (completed,
/// finished otherwise, or back to `ready` for a retry). One transition
/// records both: the parent's `waiting_for_finalize` (with its link to the
/// finalize row) and, unless the finalize will run again, its end exactly
/// as if the finalize had been read back: `completed` with the finalize's
/// output, or `finalize_failed` with finalize_task_error().
transition finalize_ran(execution_record parent,
                        std::optional<std::string> run_output,
                        execution_record finalize, timestamp now);

/// The error of a parent whose finalize task `fin` ended not completed:
/// the finalize's own stored error unchanged (retryable if it was, as the
/// reference passes it on), or, if it has none, a non-retryable "Finalize
/// task failed with an unknown error [parentTaskId=…] [finalizeTaskId=…]
/// [finalizeExecutionId=…]".
execution_error finalize_task_error(const execution_record& parent,
                                    const execution_record& fin);

/// A sequence or loop moves to its next step: stays (or becomes)
/// `waiting_for_children` and inserts the step's child.
transition next_step(execution_record r, execution_record child, timestamp now);

/// Cancels an unfinished execution from outside (user cancel).
transition cancel(execution_record r, timestamp now);

/// A sleeping execution's deadline passed: `timed_out`.
transition expire_sleeper(execution_record r, timestamp now);

/// Hands a row its node can no longer carry back to the cluster: the write
/// that should have moved it on failed and it is unknown whether the body
/// ran to its end. The row keeps its status, loses its owner and gets a
/// long expired lease (the epoch), so the next claim that takes over
/// leases (store::claim with `take_over`) runs it again. It counts one
/// recovery, as a node's death would: a row whose every write fails is
/// failed by its next claimer once `max_recoveries` is passed instead of
/// going round the cluster forever (the claim counts none itself for a row
/// without an owner).
transition hand_back(execution_record r, timestamp now);

/// Builds the row of a child of `parent` at position `index`; it belongs to
/// the parent's tree and trace (`root`, `traceparent`).
execution_record
make_child(const execution_record& parent, std::string task_id, task_kind kind,
           const task_options& opts, std::string input, std::uint32_t index,
           std::size_t siblings, bool is_finalize, timestamp now);

/// The JSON text a finalize receives, and a parent without finalize outputs:
/// `{"output": <run output>, "children": [{task_id, execution_id, status,
/// output | error}, ...]}` with the children in their original order.
std::string children_outcome(const std::optional<std::string>& run_output,
                             const std::vector<execution_record>& children);

} // namespace durable::transitions
