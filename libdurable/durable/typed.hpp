#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/status.hpp"
#include "durable/task_definition.hpp"

/// The typed vocabulary of the public API: task references, child lists,
/// the shapes parents, finalizers, loops and sequences exchange. Inputs and
/// outputs are any type with nlohmann JSON conversions; they are stored as
/// JSON text so that other languages can read them.
namespace durable {

// -- payloads -----------------------------------------------------------------

/// Serializes a value to the stored JSON text. Throws durable::error
/// (non-retryable) naming the problem when the value cannot be stored: a
/// string in it that is not valid UTF-8 (nlohmann's type_error 316) is
/// refused, never replaced (utf8.hpp has the rule). So a typed enqueue of
/// such an input is refused to its caller, and a body returning such an
/// output fails without retries (the same value would fail again).
template <class T>
std::string to_payload(const T& x) {
  try {
    return nlohmann::json(x).dump();
  } catch (const nlohmann::json::type_error& e) {
    throw error::non_retryable(std::string{"Invalid payload: "} + e.what());
  }
}

/// Parses stored JSON text into `T`. Throws durable::error (non-retryable)
/// naming the problem when the text is not valid JSON for `T`.
template <class T>
T from_payload(const std::string& text) {
  try {
    return nlohmann::json::parse(text).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw error::non_retryable(std::string{"Invalid payload: "} + e.what());
  }
}

// -- task references ----------------------------------------------------------

/// A registered task with its input and output types. Cheap to copy; valid
/// for the executor that returned it (and any node that registers the same
/// id with the same types).
template <class In, class Out>
class task_ref {
public:
  /// The input a body of this task receives, converted from JSON.
  using input_type = In;
  /// The output a body of this task returns, stored as JSON.
  using output_type = Out;

  /// An empty reference, for a member assigned later; id() is empty.
  task_ref() = default;

  /// A reference to the task registered as `id`. Nothing checks here that
  /// it is registered, or with these types: executor::task() and its
  /// siblings return references that are.
  explicit task_ref(std::string id) : id_(std::move(id)) {}

  /// The task's id, as registered and stored in execution_record::task_id.
  const std::string& id() const noexcept {
    return id_;
  }

private:
  std::string id_;
};

// -- parents ------------------------------------------------------------------

/// The children a parent body asks for, in order.
class child_list {
public:
  /// Adds a child execution of `t` with `input` and per-child overrides.
  template <class In, class Out>
  void add(const task_ref<In, Out>& t, const In& input,
           enqueue_options options = {}) {
    items_.push_back({t.id(), to_payload(input), std::move(options)});
  }

  /// How many children were added.
  std::size_t size() const noexcept {
    return items_.size();
  }

  /// True when no child was added: the parent then finishes (or
  /// finalizes) without waiting.
  bool empty() const noexcept {
    return items_.empty();
  }

  /// The children as the engine stores them (task id, JSON input,
  /// options), in the order added; the engine takes them from here.
  std::vector<child_request>& items() noexcept {
    return items_;
  }

private:
  std::vector<child_request> items_;
};

/// What a parent body returns: its own output and its children.
template <class O>
struct parent_output {
  /// The parent's own output, handed to its finalize (or, without one,
  /// stored in parent_result::output) once every child finished.
  O output{};
  /// The children to start; the parent waits for all of them.
  child_list children{};
};

/// How one finished child looks to its parent's finalize (like
/// `Promise.allSettled`): its status and either its output or its error.
template <class T>
struct child_result {
  /// The child's task id.
  std::string task_id;
  /// The child's execution id.
  std::string execution_id;
  /// How the child finished: always a final status.
  execution_status status = execution_status::completed;
  /// The child's output; set only when it completed (ok()).
  std::optional<T> value;
  /// Why the child did not complete; unset when it completed.
  std::optional<execution_error> error;

  /// True when the child completed.
  bool ok() const noexcept {
    return status == execution_status::completed;
  }

  /// The child's output, unset unless ok(); the same as #value.
  const std::optional<T>& output() const noexcept {
    return value;
  }
};

/// JSON form of a child_result: `task_id`, `execution_id`, `status` (as
/// to_string() spells it), and `output` and `error` when present. An
/// unknown status reads as failed; an output is read only when completed.
///@{
template <class T>
void from_json(const nlohmann::json& j, child_result<T>& c) {
  c.task_id = j.at("task_id").get<std::string>();
  c.execution_id = j.at("execution_id").get<std::string>();
  c.status = parse_status(j.at("status").get<std::string>())
               .value_or(execution_status::failed);
  if (auto i = j.find("output"); i != j.end() && c.ok())
    c.value = i->get<T>();
  if (auto i = j.find("error"); i != j.end())
    c.error = i->get<execution_error>();
}

template <class T>
void to_json(nlohmann::json& j, const child_result<T>& c) {
  j = nlohmann::json{{"task_id", c.task_id},
                     {"execution_id", c.execution_id},
                     {"status", to_string(c.status)}};
  if (c.value)
    j["output"] = *c.value;
  if (c.error)
    j["error"] = *c.error;
}
///@}

/// What a finalize receives, and what a parent without finalize outputs:
/// the parent's own output and every child's result, in order.
template <class O, class C = nlohmann::json>
struct finalize_input {
  /// The parent's own output (parent_output::output).
  O output{};
  /// Every child's result, in the order the parent added them.
  std::vector<child_result<C>> children;
};

/// The output of a parent task without a finalize.
template <class O, class C = nlohmann::json>
using parent_result = finalize_input<O, C>;

/// JSON form of a finalize_input: `{"output": ..., "children": [...]}`.
///@{
template <class O, class C>
void from_json(const nlohmann::json& j, finalize_input<O, C>& f) {
  f.output = j.at("output").get<O>();
  f.children = j.at("children").get<std::vector<child_result<C>>>();
}

template <class O, class C>
void to_json(nlohmann::json& j, const finalize_input<O, C>& f) {
  j = nlohmann::json{{"output", f.output}, {"children", f.children}};
}
///@}

/// An inline finalize function for parent_task().
template <class F>
struct finalize_function {
  /// The function, called with the finalize_input once.
  F fn;
};

/// Wraps a function `(const finalize_input<O, C>&) -> Out` as the inline
/// finalize of a parent task. It runs once, is not retried, and a throw
/// ends the parent `finalize_failed`.
template <class F>
finalize_function<std::decay_t<F>> finalize(F&& fn) {
  return {std::forward<F>(fn)};
}

// -- loops --------------------------------------------------------------------

/// What one iteration of a looping task returns: done (with the loop's
/// output) or not yet.
template <class T>
struct loop_step {
  /// True ends the loop; false runs the next iteration (if allowed).
  bool done = false;
  /// The loop's output; set when done.
  std::optional<T> output;

  /// Ends the loop with output `x`.
  static loop_step finished(T x) {
    return {true, std::move(x)};
  }

  /// Asks for another iteration.
  static loop_step again() {
    return {false, std::nullopt};
  }
};

/// JSON form of a loop_step: `done` (false when missing) and `output`
/// when set (null reads as unset).
///@{
template <class T>
void to_json(nlohmann::json& j, const loop_step<T>& s) {
  j = nlohmann::json{{"done", s.done}};
  if (s.output)
    j["output"] = *s.output;
}

template <class T>
void from_json(const nlohmann::json& j, loop_step<T>& s) {
  s.done = j.value("done", false);
  if (auto i = j.find("output"); i != j.end() && !i->is_null())
    s.output = i->get<T>();
}
///@}

/// The output of a looping task: whether an iteration reported done within
/// the allowed iterations, and that iteration's output.
template <class T>
struct loop_result {
  /// True when an iteration reported done; false when the iterations
  /// allowed (task_definition::max_iterations) ran out first.
  bool is_success = false;
  /// The output of the iteration that reported done; unset otherwise.
  std::optional<T> output;
};

/// JSON form of a loop_result: `is_success` (false when missing) and
/// `output` when set (null reads as unset).
///@{
template <class T>
void to_json(nlohmann::json& j, const loop_result<T>& r) {
  j = nlohmann::json{{"is_success", r.is_success}};
  if (r.output)
    j["output"] = *r.output;
}

template <class T>
void from_json(const nlohmann::json& j, loop_result<T>& r) {
  r.is_success = j.value("is_success", false);
  if (auto i = j.find("output"); i != j.end() && !i->is_null())
    r.output = i->get<T>();
}
///@}

// -- sleeping tasks -----------------------------------------------------------

/// Completes a sleeping execution with `output`.
template <class T>
struct wake_completed {
  /// The sleeping execution's output, stored as JSON.
  T output;
};

/// Fails a sleeping execution with a non-retryable error.
struct wake_failed {
  /// The error's message (execution_error::message).
  std::string message;
};

/// Completes a sleeping execution with `output`, for executor::wake():
/// `wake(task, sleeping_id, completed(42))`.
template <class T>
wake_completed<T> completed(T output) {
  return {std::move(output)};
}

/// Fails a sleeping execution, not retried, with `message`.
inline wake_failed failed(std::string message) {
  return {std::move(message)};
}

// -- finished executions ------------------------------------------------------

/// A finished execution with its typed output.
template <class Out>
struct finished {
  /// The stored row as it was when the execution finished.
  execution_record execution;
  /// The output parsed as `Out`; set only when it completed.
  std::optional<Out> output;

  /// The execution's final status.
  execution_status status() const noexcept {
    return execution.status;
  }

  /// True when the execution completed (and output is set).
  bool ok() const noexcept {
    return execution.status == execution_status::completed;
  }

  /// Why the execution did not complete; unset when it did.
  const std::optional<execution_error>& error() const noexcept {
    return execution.error;
  }
};

/// Builds a finished<Out> from a stored row (output parsed if completed).
template <class Out>
finished<Out> make_finished(execution_record r) {
  finished<Out> f;
  if (r.status == execution_status::completed && r.output)
    f.output = from_payload<Out>(*r.output);
  f.execution = std::move(r);
  return f;
}

} // namespace durable
