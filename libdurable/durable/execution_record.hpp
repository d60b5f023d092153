#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "durable/error.hpp"
#include "durable/options.hpp"
#include "durable/shared_text.hpp"
#include "durable/status.hpp"
#include "durable/time.hpp"

namespace durable {

/// The kinds of task. Stored; never reorder.
enum class task_kind : std::uint8_t {
  task = 0,     ///< a body that returns an output
  parent = 1,   ///< a body that returns an output and children
  sequence = 2, ///< a chain of steps, each output the next input
  loop = 3,     ///< an iteration task repeated until done
  sleeping = 4, ///< no body: woken from outside by a unique id
};

/// The kind's stored name: "task", "parent", "sequence", "loop",
/// "sleeping".
std::string_view to_string(task_kind k) noexcept;

/// A link to an execution: its task and its id.
struct execution_ref {
  /// The execution's task id.
  std::string task_id;
  /// The execution's id.
  std::string execution_id;

  /// Equal when both ids are.
  friend bool operator==(const execution_ref&, const execution_ref&) = default;
};

/// How a child sees its parent.
struct parent_link {
  /// The parent's task id.
  std::string task_id;
  /// The parent's execution id.
  std::string execution_id;
  /// Position in the parent's children (sequence step, loop iteration).
  std::uint32_t index = 0;
  /// The parent asked for this one child only (set when the child is
  /// made; a finalize is never an only child).
  bool is_only_child = false;
  /// The child is the parent's finalize task, not one of its children.
  bool is_finalize = false;

  /// Equal when every field is.
  friend bool operator==(const parent_link&, const parent_link&) = default;
};

/// JSON form of an execution_ref: `{"task_id": ..., "execution_id": ...}`.
///@{
void to_json(nlohmann::json& j, const execution_ref& r);
void from_json(const nlohmann::json& j, execution_ref& r);
///@}

/// JSON form of a parent_link: its fields under their names; a missing
/// `index`, `is_only_child` or `is_finalize` reads as 0 or false.
///@{
void to_json(nlohmann::json& j, const parent_link& p);
void from_json(const nlohmann::json& j, parent_link& p);
///@}

/// One stored execution: the row every store keeps.
///
/// Payloads (`input`, `output`, `run_output`) are JSON text. Every transition
/// replaces the mutable fields as a whole and is guarded by `version` (see
/// store.hpp). Two fields belong to the store and are never overwritten by a
/// transition: `watched` and, between transitions, `lease_expires_at` (moved
/// by lease renewal without a version bump).
struct execution_record {
  // -- identity -------------------------------------------------------------
  /// The execution's id, unique in its store; given when it is made.
  std::string id;
  /// The registered task it runs.
  std::string task_id;
  // `kind` is identity too; it sits with the other small fields below.
  /// Its parent; unset for a top-level execution.
  std::optional<parent_link> parent;
  /// The root of the tree; the execution itself when it has no parent.
  execution_ref root;
  /// The unique id that wakes a sleeping task (its input); unset for
  /// every other kind.
  std::optional<std::string> sleeping_id;
  /// The key given at enqueue: unique across all executions of all
  /// tasks, the first execution to use it keeps it (docs/http-api.md,
  /// "Idempotency"). Unset when none was given.
  std::optional<std::string> idempotency_key;
  /// The W3C trace context of the request that enqueued the tree (given at
  /// enqueue, copied to every descendant; trace_context.hpp). Shared by the
  /// copies of the row: the actor of every running execution holds one.
  shared_text traceparent;

  // -- options in force -----------------------------------------------------
  /// The retry policy of this execution (the task's, or the enqueue's
  /// override).
  retry_options retry;
  /// The delay between enqueue and the first run.
  millis sleep_before_run{0};
  /// How long one run of a body may take (a sleeper: how long it sleeps);
  /// 0 for none.
  millis timeout{0};

  // -- payloads -------------------------------------------------------------
  /// The input, as JSON text.
  std::string input = "null";
  /// The output, as JSON text; set once completed (a parent: the output
  /// of its finalize, or its run_output and children's results).
  std::optional<std::string> output;
  /// A parent's own output while it waits for children and finalize.
  std::optional<std::string> run_output;
  /// The error of the previous attempt (while ready/running) or the end error.
  std::optional<execution_error> error;

  // -- state ----------------------------------------------------------------
  /// Where the execution is in its life (status.hpp).
  execution_status status = execution_status::ready;
  // The small fields of every group share one word beside `status`, so the
  // record has no padding holes: a row is copied at every transition and
  // held by every running execution's actor (see execution_actor.cpp).
  /// What kind of task it runs; never changes.
  task_kind kind = task_kind::task; // identity
  /// Someone waits for this execution to finish: its end is announced
  /// (store-managed).
  bool watched = false;
  /// The current step of a sequence or the current iteration of a loop.
  std::uint32_t step = 0;
  /// Bumped by every transition; guards every write (optimistic locking).
  std::uint64_t version = 0;
  /// Earlier retries: 0 on the first run.
  int attempt = 0;
  /// Times the execution was taken over from an owner whose lease expired.
  int recoveries = 0;
  /// The incarnation that holds the lease (running bodies, waiting parents).
  std::optional<std::string> owner;
  /// When #owner's lease runs out unless renewed; unset without an owner.
  /// Moved by lease renewal without a version bump (store-managed).
  std::optional<timestamp> lease_expires_at;

  // -- timing ---------------------------------------------------------------
  /// The earliest time a `ready` execution may be claimed: enqueue plus
  /// sleep_before_run, or the time a retry's back-off ends.
  timestamp start_at{};
  /// When the row was made (store clock).
  timestamp created_at{};
  /// When the last transition wrote the row.
  timestamp updated_at{};
  /// When the current attempt started running; unset while ready.
  std::optional<timestamp> started_at;
  /// The run deadline of a body, or the wake-up deadline of a sleeper.
  std::optional<timestamp> expires_at;
  /// When a parent began waiting for its children; unset before.
  std::optional<timestamp> waiting_for_children_started_at;
  /// When a parent began waiting for its finalize; unset before.
  std::optional<timestamp> waiting_for_finalize_started_at;
  /// When it reached a final status; unset until then.
  std::optional<timestamp> finished_at;
  /// Set once every side effect of finishing is durable (with finishing).
  std::optional<timestamp> closed_at;

  // -- children -------------------------------------------------------------
  /// A parent's children, in the order its body added them; a sequence's
  /// or loop's steps so far.
  std::vector<execution_ref> children;
  /// A parent's finalize execution, once started; unset otherwise.
  std::optional<execution_ref> finalize;
  // `step` (the current step or iteration) is with the small fields above.

  /// True when the status is final (durable::is_finished()).
  bool is_finished() const noexcept {
    return durable::is_finished(status);
  }

  /// True for a sleeping task's execution.
  bool is_sleeping() const noexcept {
    return kind == task_kind::sleeping;
  }
};

/// Every field as JSON (for APIs, logs and tests), keyed and encoded as
/// execution_fields.hpp lists them: times as microseconds (`*_us`),
/// durations as milliseconds, kind and status by name, unset optionals
/// left out. Payloads are embedded as parsed JSON where they parse, as
/// strings otherwise.
void to_json(nlohmann::json& j, const execution_record& r);

/// The inverse of to_json(). A payload embedded as JSON reads back as its
/// compact text; one that did not parse (embedded as a string) reads back
/// as that JSON string's text, so only payloads holding JSON text, as
/// every stored payload does, round-trip exactly.
/// @throws nlohmann::json::exception for a missing required key or a value
///   of the wrong type, std::invalid_argument for an unknown kind or status.
void from_json(const nlohmann::json& j, execution_record& r);

/// Builds the row of a new top-level or child execution. `now` is the
/// store's clock; the row starts `ready` at `now + sleep_before_run`
/// (sleeping tasks start `running` with a deadline of `now + sleep + timeout`).
execution_record make_execution(std::string task_id, task_kind kind,
                                const task_options& opts, std::string input,
                                timestamp now);

} // namespace durable
