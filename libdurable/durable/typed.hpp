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
  using input_type = In;
  using output_type = Out;

  task_ref() = default;

  explicit task_ref(std::string id) : id_(std::move(id)) {}

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

  std::size_t size() const noexcept {
    return items_.size();
  }

  bool empty() const noexcept {
    return items_.empty();
  }

  std::vector<child_request>& items() noexcept {
    return items_;
  }

private:
  std::vector<child_request> items_;
};

/// What a parent body returns: its own output and its children.
template <class O>
struct parent_output {
  O output{};
  child_list children{};
};

/// How one finished child looks to its parent's finalize (like
/// `Promise.allSettled`): its status and either its output or its error.
template <class T>
struct child_result {
  std::string task_id;
  std::string execution_id;
  execution_status status = execution_status::completed;
  std::optional<T> value;
  std::optional<execution_error> error;

  bool ok() const noexcept {
    return status == execution_status::completed;
  }

  const std::optional<T>& output() const noexcept {
    return value;
  }
};

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

/// What a finalize receives, and what a parent without finalize outputs:
/// the parent's own output and every child's result, in order.
template <class O, class C = nlohmann::json>
struct finalize_input {
  O output{};
  std::vector<child_result<C>> children;
};

/// The output of a parent task without a finalize.
template <class O, class C = nlohmann::json>
using parent_result = finalize_input<O, C>;

template <class O, class C>
void from_json(const nlohmann::json& j, finalize_input<O, C>& f) {
  f.output = j.at("output").get<O>();
  f.children = j.at("children").get<std::vector<child_result<C>>>();
}

template <class O, class C>
void to_json(nlohmann::json& j, const finalize_input<O, C>& f) {
  j = nlohmann::json{{"output", f.output}, {"children", f.children}};
}

/// An inline finalize function for parent_task().
template <class F>
struct finalize_function {
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
  bool done = false;
  std::optional<T> output;

  static loop_step finished(T x) {
    return {true, std::move(x)};
  }

  static loop_step again() {
    return {false, std::nullopt};
  }
};

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

/// The output of a looping task: whether an iteration reported done within
/// the allowed iterations, and that iteration's output.
template <class T>
struct loop_result {
  bool is_success = false;
  std::optional<T> output;
};

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

// -- sleeping tasks -----------------------------------------------------------

/// Completes a sleeping execution with `output`.
template <class T>
struct wake_completed {
  T output;
};

/// Fails a sleeping execution with a non-retryable error.
struct wake_failed {
  std::string message;
};

template <class T>
wake_completed<T> completed(T output) {
  return {std::move(output)};
}

inline wake_failed failed(std::string message) {
  return {std::move(message)};
}

// -- finished executions ------------------------------------------------------

/// A finished execution with its typed output.
template <class Out>
struct finished {
  execution_record execution;
  std::optional<Out> output;

  execution_status status() const noexcept {
    return execution.status;
  }

  bool ok() const noexcept {
    return execution.status == execution_status::completed;
  }

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
