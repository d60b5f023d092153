#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "durable/actors/messages.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/options.hpp"

/// The checks and the reading of replies behind every call an executor
/// serves, shared by its two faces: the C++ facade (executor.cpp, blocking
/// calls from any thread) and the executor actor (executor_actor.cpp, typed
/// messages, also over the network). Both refuse the same calls with the same
/// errors because both go through these functions.
///
/// Every function throws durable::error (with the reference's messages) and
/// changes nothing: the checks run before anything is stored. They only
/// read the runtime, so they are safe from any thread.
namespace durable::actors {

/// The registered task `task_id`; throws "Task not found [taskId=…]".
task_definition_ptr find_task(const runtime& rt, const std::string& task_id);

/// Throws "Durable executor shutdown" once the executor began shutting down.
void check_running(const runtime& rt);

/// Validates an enqueue of `task_id` with `inputs` and `opts` and builds
/// the new rows (one per input). Throws for an unknown task, invalid
/// overrides, an oversize input, an input, idempotency key or sleeping id
/// that is not storable text (utf8.hpp: "Input of task t is not valid
/// UTF-8 [offset=n]"), an invalid sleeping id or after shutdown; with
/// `check_inputs`, an input the task's typed body could not parse
/// (task_definition::check_input: its own, a sequence's first step's, a
/// loop's iteration task's). One bad input refuses the whole call, and
/// only that call.
std::vector<execution_record>
make_enqueue_rows(const runtime& rt, const std::string& task_id,
                  std::vector<std::string> inputs, const enqueue_options& opts,
                  bool check_inputs = true);

/// What enqueued_ids() needs of the rows it asked to insert, in order.
struct enqueued_names {
  std::string task_id;
  std::vector<std::optional<std::string>> sleeping_ids;
  std::vector<std::optional<std::string>> idempotency_keys;
};

/// The names of `rows` (all of one task, as make_enqueue_rows() builds
/// them).
enqueued_names names_of(const std::vector<execution_record>& rows);

/// The execution ids the store answered an insert with (for a repeated
/// idempotency key of the same task, the first execution's id). Throws for
/// a store error, a sleeping id that exists already, or an idempotency key
/// that an execution of another task holds (keys are unique across tasks:
/// the first task to use one keeps it).
std::vector<std::string> enqueued_ids(const enqueued_names& names,
                                      const insert_reply& reply);

/// Validates a wake-up and builds the storage request. Throws for an
/// unknown task, a task that is not a sleeping task, an oversize output,
/// a sleeping id or output that is not storable text (utf8.hpp) or after
/// shutdown. The error message is stored with invalid UTF-8 replaced.
wake_request make_wake_request(const runtime& rt, std::string task_id,
                               std::string sleeping_id,
                               std::optional<std::string> output,
                               std::string error_message);

/// The woken execution of the storage's reply; throws its error.
execution_record woken_record(wake_reply reply, const std::string& sleeping_id);

/// The stored row named `id`; none, without asking the store, when `id`
/// cannot name an execution (ids.hpp, may_name_execution). Every read of
/// an execution by a caller's id goes through here.
std::optional<execution_record> read_execution(durable::store& db,
                                               const std::string& id);

/// The row of `execution_id`; throws not-found when there is none.
execution_record found_record(std::optional<execution_record> row,
                              const std::string& execution_id);

/// "Task execution not found [executionId=…]".
error execution_not_found(const std::string& execution_id);

/// "Executor shut down while waiting [executionId=…]": what a wait still
/// in progress when its executor shuts down throws (generic,
/// non-retryable: the execution itself goes on; wait on another node).
error shut_down_while_waiting(const std::string& execution_id);

/// The error of an engine call that was answered with `err`: the
/// durable::error it carries (wire_errors.hpp) if the engine refused the
/// call on purpose, else (store unavailable, actor gone) an internal,
/// retryable error with CAF's rendering of `err`.
error engine_failure(caf::actor_system& sys, const caf::error& err);

} // namespace durable::actors
