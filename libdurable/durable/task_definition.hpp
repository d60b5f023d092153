#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/task_context.hpp"

namespace durable {

/// One child a parent body asks for: which task, with what input (JSON
/// text) and which per-child enqueue overrides.
struct child_request {
  /// The child's task id.
  std::string task_id;
  /// The child's input, as JSON text.
  std::string input;
  /// Overrides of the child task's options for this child alone.
  enqueue_options options;
};

/// What a parent body returns: its own output and its children.
struct parent_run {
  /// The parent's own output, as JSON text (execution_record::run_output
  /// while it waits).
  std::string output = "null";
  /// The children to start, in order; none finishes the parent (or starts
  /// its finalize) at once.
  std::vector<child_request> children;
};

/// A registered task with its JSON-level behaviour; the typed facade builds
/// these from user functions. Immutable once registered, so it is shared
/// freely between threads.
struct task_definition {
  /// A body: input JSON text to output JSON text.
  using run_fn = std::function<std::string(task_context&, const std::string&)>;
  /// A parent's body: input JSON text to its own output and children.
  using run_parent_fn = std::function<parent_run(task_context&,
                                                 const std::string&)>;
  /// An inline finalize: the finalize_input as JSON text to the parent's
  /// output.
  using finalize_fn = std::function<std::string(const std::string&)>;
  /// A loop's pause before iteration k (k from 0).
  using pause_fn = std::function<millis(int)>;
  /// Throws to refuse an input (JSON text) before a row exists.
  using input_check_fn = std::function<void(const std::string&)>;

  /// What kind of task it is; decides which members below are used.
  task_kind kind = task_kind::task;
  /// The id, timeout, retry policy and sleep every execution starts with.
  task_options options;

  /// kind task: input JSON -> output JSON. Throws to fail the run.
  run_fn run;
  /// kind task or parent, typed: throws durable::error (non-retryable,
  /// "Invalid input to task <id>: <why>") when an input does not parse
  /// into the body's input type. An untyped enqueue (HTTP, the gateway,
  /// enqueue_raw) runs it to refuse such an input at once, before a row
  /// exists; empty for tasks whose input is any JSON.
  input_check_fn check_input;
  /// kind parent: input JSON -> own output and children.
  run_parent_fn run_parent;
  /// kind parent: an inline finalize (children outcome -> output).
  finalize_fn finalize_function;
  /// kind parent: the id of a finalize task (a task or a parent task).
  std::string finalize_task;
  /// kind sequence: the ids of the steps, in order.
  std::vector<std::string> steps;
  /// kind loop: the iteration task, the most iterations, the pause before
  /// iteration k (k from 0; the first iteration uses the task's own
  /// sleep_before_run when no pause function is given).
  std::string iteration_task;
  /// kind loop: the most iterations; the loop ends unsuccessful
  /// (loop_result::is_success false) when they ran out.
  int max_iterations = 0;
  /// kind loop: the pause before each iteration; empty for none.
  pause_fn iteration_pause;

  /// True for a parent with an inline finalize or a finalize task.
  bool has_finalize() const noexcept {
    return static_cast<bool>(finalize_function) || !finalize_task.empty();
  }
};

/// How registries hold a task_definition: shared, immutable.
using task_definition_ptr = std::shared_ptr<const task_definition>;

} // namespace durable
