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
  std::string task_id;
  std::string input;
  enqueue_options options;
};

/// What a parent body returns: its own output and its children.
struct parent_run {
  std::string output = "null";
  std::vector<child_request> children;
};

/// A registered task with its JSON-level behaviour; the typed facade builds
/// these from user functions. Immutable once registered, so it is shared
/// freely between threads.
struct task_definition {
  using run_fn = std::function<std::string(task_context&, const std::string&)>;
  using run_parent_fn = std::function<parent_run(task_context&,
                                                 const std::string&)>;
  using finalize_fn = std::function<std::string(const std::string&)>;
  using pause_fn = std::function<millis(int)>;
  using input_check_fn = std::function<void(const std::string&)>;

  task_kind kind = task_kind::task;
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
  int max_iterations = 0;
  pause_fn iteration_pause;

  bool has_finalize() const noexcept {
    return static_cast<bool>(finalize_function) || !finalize_task.empty();
  }
};

using task_definition_ptr = std::shared_ptr<const task_definition>;

} // namespace durable
