#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/task_definition.hpp"

/// What a supervising execution does next once the children it waited for
/// ended, per kind, as pure functions: a parent after its children, a
/// parent after its finalize task, a sequence after a step, a loop after
/// an iteration. Nothing here touches a store, a clock or an actor; the
/// execution actor turns the answer into a transition (transitions.hpp)
/// and, for a new step or a finalize, into a child row.
///
/// The messages are the reference's (REFERENCE.md §2.5).
namespace durable::next_step {

/// End the execution `completed` with `output` (JSON text).
struct complete {
  /// The execution's output, as JSON text.
  std::string output;
  /// The output was built here (a parent's children's outcome), not read
  /// from a stored child: it must still pass max_output_bytes and the
  /// storable-text rule.
  bool built = false;
};

/// End the execution in `status` (failed or finalize_failed) with `error`.
struct fail {
  /// The final status: failed or finalize_failed.
  execution_status status;
  /// The error stored with it (the reference's message).
  execution_error error;
};

/// Store child `index` of a sequence or loop with `input`, and wait for it.
struct start_step {
  /// The step's or iteration's position, from 0.
  std::uint32_t index;
  /// Its input, as JSON text: for a sequence the previous step's output
  /// (the first step: the sequence's input), for a loop the loop's input.
  std::string input;
};

/// Run the parent's finalize (its function, or its task) on `input`, the
/// children's outcome (transitions::children_outcome).
struct finalize {
  /// The finalize_input, as JSON text.
  std::string input;
};

/// Wait longer: the awaited children are not all finished (their ids).
struct wait_for {
  /// The execution ids of the children not yet finished.
  std::vector<std::string> unfinished;
};

/// What a supervisor does once children it waited for ended.
using move = std::variant<complete, fail, start_step, finalize, wait_for>;

/// Run the execution's body: a task's or a parent's.
struct run_body {};

/// Read the children of a parent found waiting (recovered from a node
/// that is gone): what they did is unknown.
struct adopt {};

/// Nothing: the row is finished already.
struct stand_down {};

/// What a claimed execution does first (at_start()).
using first_move = std::variant<fail, run_body, start_step, adopt, stand_down>;

/// What a claimed `row` does first: fail when its task `def` is not
/// registered here (null: claims filter by registered task, so only a task
/// that vanished between claim and spawn) or it was taken over from dead
/// nodes more than `max_recoveries` times (store_rules::claim counts
/// running bodies and waiting parents alike); otherwise run its body,
/// start a sequence's or loop's first step on its input, or adopt its
/// children.
first_move at_start(const execution_record& row, const task_definition* def,
                    int max_recoveries);

/// A supervisor whose children `kids` were all read (in order, its
/// finalize task among them or not): for a parent waiting for its finalize
/// task, after_finalize_task(); otherwise wait for the unfinished, fail if
/// some are missing, else what its kind does after the last child:
/// after_step(), after_iteration(), or parent_done() with the children's
/// outcome.
move after_children(const execution_record& row, const task_definition& def,
                    std::vector<execution_record> kids);

/// A sequence or loop whose current step `child` was read: wait for it,
/// or after_step() / after_iteration().
move after_current_step(const execution_record& row, const task_definition& def,
                        const execution_record& child);

/// A parent whose children all finished (or that spawned none), with
/// their outcome: its finalize runs on it, or it completes with it.
move parent_done(const task_definition& def, std::string outcome);

/// A parent waiting for its finalize task: `fin` is that task's row, null
/// if it was not found.
move after_finalize_task(const execution_record& parent,
                         const execution_record* fin);

/// A sequence whose current step `step` finished.
move after_step(const execution_record& sequence, const task_definition& def,
                const execution_record& step);

/// A loop whose current iteration `it` finished: done when it returned
/// `{"done": true, "output": …}` (output `{"is_success": true, "output":
/// …}`); after `max_iterations` without that, `{"is_success": false}`.
move after_iteration(const execution_record& loop, const task_definition& def,
                     const execution_record& it);

} // namespace durable::next_step
