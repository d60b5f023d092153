#include "durable/actors/requests.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/actors/wire_errors.hpp"
#include "durable/ids.hpp"
#include "durable/trace_context.hpp"
#include "durable/utf8.hpp"

namespace durable::actors {

namespace {

constexpr std::size_t max_sleeping_id_length = 255;

/// Throws the non-retryable error naming why `text` is not storable text.
void refuse_unstorable(std::string_view what, std::string_view text) {
  if (auto why = utf8::problem(what, text))
    throw error::non_retryable(std::move(*why));
}

std::string sleeping_id_of(const std::string& task_id,
                           const std::string& input) {
  auto j = nlohmann::json::parse(input, nullptr, false);
  if (!j.is_string() || j.get<std::string>().empty()
      || j.get<std::string>().size() > max_sleeping_id_length)
    throw error::non_retryable(fmt::format(
      "Invalid sleeping task unique id for task {}: must be a non-empty "
      "string of at most 255 characters",
      task_id));
  auto id = j.get<std::string>();
  // Valid UTF-8 since the input is, but "\u0000" decodes to a NUL.
  refuse_unstorable("Sleeping task unique id", id);
  return id;
}

error oversize(std::size_t size, std::size_t max) {
  return error::non_retryable(
    fmt::format("Serialized data size exceeds maximum allowed size [size={}] "
                "[maxSize={}]",
                size, max));
}

/// The task whose body first receives an execution of `def`'s input as
/// it is: `def` itself, a sequence's first step, or a loop's iteration
/// task (null if not registered: its run fails the execution).
task_definition_ptr first_receiver(const runtime& rt,
                                   const task_definition_ptr& def) {
  if (def->kind == task_kind::sequence && !def->steps.empty())
    return rt.tasks->find(def->steps.front());
  if (def->kind == task_kind::loop)
    return rt.tasks->find(def->iteration_task);
  return def;
}

} // namespace

task_definition_ptr find_task(const runtime& rt, const std::string& task_id) {
  auto def = rt.tasks->find(task_id);
  if (!def)
    throw error::not_found(fmt::format("Task not found [taskId={}]", task_id));
  return def;
}

void check_running(const runtime& rt) {
  if (rt.shutdown.stop_requested())
    throw error::non_retryable("Durable executor shutdown");
}

std::vector<execution_record>
make_enqueue_rows(const runtime& rt, const std::string& task_id,
                  std::vector<std::string> inputs, const enqueue_options& o,
                  bool check_inputs) {
  check_running(rt);
  auto def = find_task(rt, task_id);
  task_definition_ptr receiver;
  if (check_inputs)
    receiver = first_receiver(rt, def);
  auto opts = merge(def->options, o);
  if (o.idempotency_key)
    refuse_unstorable("Idempotency key", *o.idempotency_key);
  // One string shared by every row of the call (shared_text).
  shared_text traceparent;
  if (o.traceparent) {
    if (auto why = trace_context::traceparent_problem(*o.traceparent))
      throw error::non_retryable(std::move(*why));
    traceparent = trace_context::stored_traceparent(*o.traceparent);
  }
  auto now = rt.now();
  std::vector<execution_record> rows;
  rows.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto& input = inputs[i];
    if (input.size() > rt.options.max_input_bytes)
      throw oversize(input.size(), rt.options.max_input_bytes);
    if (!utf8::is_storable(input))
      refuse_unstorable(inputs.size() == 1
                          ? fmt::format("Input of task {}", task_id)
                          : fmt::format("Input {} of task {}", i, task_id),
                        input);
    if (receiver && receiver->check_input) {
      try {
        receiver->check_input(input);
      } catch (const error& e) {
        if (inputs.size() == 1)
          throw;
        throw error::non_retryable(fmt::format("{} [index={}]", e.what(), i));
      }
    }
    std::optional<std::string> sleeping_id;
    if (def->kind == task_kind::sleeping) {
      sleeping_id = sleeping_id_of(task_id, input);
      input = "null";
    }
    auto row = make_execution(task_id, def->kind, opts, std::move(input), now);
    row.sleeping_id = std::move(sleeping_id);
    row.traceparent = traceparent;
    if (o.idempotency_key)
      row.idempotency_key = inputs.size() == 1
                              ? *o.idempotency_key
                              : fmt::format("{}:{}", *o.idempotency_key, i);
    rows.push_back(std::move(row));
  }
  return rows;
}

enqueued_names names_of(const std::vector<execution_record>& rows) {
  enqueued_names names;
  if (!rows.empty())
    names.task_id = rows.front().task_id;
  names.sleeping_ids.reserve(rows.size());
  names.idempotency_keys.reserve(rows.size());
  for (const auto& r : rows) {
    names.sleeping_ids.push_back(r.sleeping_id);
    names.idempotency_keys.push_back(r.idempotency_key);
  }
  return names;
}

std::vector<std::string> enqueued_ids(const enqueued_names& names,
                                      const insert_reply& reply) {
  // Enqueuing again after an insert in doubt may store the executions
  // twice (unless they carry idempotency keys): not retryable.
  if (reply.in_doubt)
    throw error::internal(
      "Storage error: " + reply.error
        + "; the executions may have been enqueued: look them up, or enqueue "
          "again with an idempotency key",
      false);
  if (!reply.error.empty())
    throw error::internal("Storage error: " + reply.error, true);
  std::vector<std::string> ids;
  ids.reserve(reply.outcomes.size());
  for (std::size_t i = 0; i < reply.outcomes.size(); ++i) {
    const auto& o = reply.outcomes[i];
    switch (o.result) {
      case insert_outcome::kind::duplicate_key:
        // An empty task is a store that does not say: trust the key.
        if (!o.task_id.empty() && o.task_id != names.task_id)
          throw error::non_retryable(fmt::format(
            "Idempotency key is used by an execution of another task "
            "[idempotencyKey={}, taskId={}, executionId={}]",
            names.idempotency_keys.at(i).value_or(""), o.task_id,
            o.execution_id));
        ids.push_back(o.execution_id);
        break;
      case insert_outcome::kind::inserted:
        ids.push_back(o.execution_id);
        break;
      case insert_outcome::kind::duplicate_sleeping_id:
        throw error::non_retryable(
          fmt::format("Sleeping task unique id already exists "
                      "[sleepingTaskUniqueId={}]",
                      names.sleeping_ids.at(i).value_or("")));
      case insert_outcome::kind::duplicate_id:
        throw error::internal(fmt::format(
          "Duplicate execution id [executionId={}]", o.execution_id));
      case insert_outcome::kind::refused:
        throw error::non_retryable(o.reason);
    }
  }
  return ids;
}

wake_request make_wake_request(const runtime& rt, std::string task_id,
                               std::string sleeping_id,
                               std::optional<std::string> output,
                               std::string error_message) {
  check_running(rt);
  auto def = find_task(rt, task_id);
  if (def->kind != task_kind::sleeping)
    throw error::non_retryable(
      fmt::format("Task is not a sleeping task [taskId={}]", task_id));
  // A sleeping id that is not storable text names no execution; on
  // PostgreSQL, looking it up would be a statement error.
  refuse_unstorable("Sleeping task unique id", sleeping_id);
  if (output && output->size() > rt.options.max_output_bytes)
    throw oversize(output->size(), rt.options.max_output_bytes);
  if (output)
    refuse_unstorable("Output", *output);
  // The error message needs no check: it is stored with invalid UTF-8
  // replaced (transitions::finish).
  return wake_request{std::move(task_id), std::move(sleeping_id),
                      std::move(output), std::move(error_message)};
}

execution_record woken_record(wake_reply reply,
                              const std::string& sleeping_id) {
  if (reply.error)
    throw error{*reply.error};
  if (!reply.record || !reply.record->is_finished())
    throw error::internal(fmt::format(
      "Sleeping task execution could not be woken [sleepingTaskUniqueId={}]",
      sleeping_id));
  return std::move(*reply.record);
}

execution_record found_record(std::optional<execution_record> row,
                              const std::string& execution_id) {
  if (!row)
    throw execution_not_found(execution_id);
  return std::move(*row);
}

std::optional<execution_record> read_execution(durable::store& db,
                                               const std::string& id) {
  if (!may_name_execution(id))
    return std::nullopt;
  return db.get(id);
}

error execution_not_found(const std::string& execution_id) {
  return error::not_found(
    fmt::format("Task execution not found [executionId={}]", execution_id));
}

error shut_down_while_waiting(const std::string& execution_id) {
  return error::non_retryable(fmt::format(
    "Executor shut down while waiting [executionId={}]", execution_id));
}

error engine_failure(caf::actor_system& sys, const caf::error& err) {
  // An error the engine raised on purpose keeps its kind and flags.
  if (auto e = from_caf_error(err))
    return std::move(*e);
  return error::internal(sys.render(err), true);
}

} // namespace durable::actors
