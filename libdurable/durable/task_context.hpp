#pragma once

#include <optional>
#include <stop_token>
#include <string>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"

namespace durable {

/// What a running body knows about its execution.
///
/// `execution_id` plus `attempt` is an idempotency key for the body's own
/// side effects: a body runs at least once per attempt (a node that dies
/// mid-run makes another node run the same attempt again).
///
/// Threading: the context belongs to one run of one body; the stop tokens
/// may be polled from any thread.
struct task_context {
  /// The task this body belongs to.
  std::string task_id;
  /// The running execution's id (execution_record::id).
  std::string execution_id;
  /// Earlier retries: 0 on the first run, 1 on the first retry, ...
  int attempt = 0;
  /// The error of the previous attempt, if this is a retry.
  std::optional<execution_error> previous_error;
  /// The execution's parent; unset for a top-level execution.
  std::optional<parent_link> parent;
  /// The root of the execution's tree; itself when it has no parent.
  execution_ref root;
  /// The W3C trace context the tree was enqueued with (trace_context.hpp):
  /// the parent of the spans a body starts, if it traces.
  std::optional<std::string> traceparent;
  /// Fires when this run should stop: cancellation, timeout, lease loss.
  std::stop_token cancel_token;
  /// Fires when the executor shuts down.
  std::stop_token shutdown_token;

  /// True once the run should stop for any reason.
  bool stop_requested() const noexcept {
    return cancel_token.stop_requested() || shutdown_token.stop_requested();
  }
};

} // namespace durable
