#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/nodes/network_config.hpp"
#include "durable/options.hpp"
#include "durable/typed.hpp"

namespace durable {

class client;

/// A typed handle on an execution that lives on a node. Cheap to copy;
/// valid while its client lives. Mirrors durable::handle.
template <class Out>
class remote_handle {
public:
  /// A handle on `execution_id` of `task_id`, served through `c`. Built by
  /// client::enqueue() and client::get_handle(); nothing is checked.
  remote_handle(client* c, std::string task_id, std::string execution_id)
    : client_(c),
      task_id_(std::move(task_id)),
      execution_id_(std::move(execution_id)) {}

  /// The id of the execution's task.
  const std::string& task_id() const noexcept {
    return task_id_;
  }

  /// The execution's id (`te_…`).
  const std::string& execution_id() const noexcept {
    return execution_id_;
  }

  /// The execution as stored now.
  execution_record get() const;

  /// Blocks until the execution finished; the node pushes the end.
  finished<Out> wait() const;

  /// Like wait(), but nullopt once `timeout` passed without an end.
  std::optional<finished<Out>> wait_for(millis timeout) const;

  /// Cancels the execution; returns it as stored afterwards.
  execution_record cancel() const;

private:
  client* client_;
  std::string task_id_;
  std::string execution_id_;
};

/// Where a client connects.
struct client_options {
  /// The node's gateway address (gateway_options::bind_address).
  std::string host = "127.0.0.1";
  /// The gateway's port (gateway::port(), the node's `ready` line);
  /// the default 0 must be replaced.
  std::uint16_t port = 0;
  /// How long connecting (TCP and CAF's handshake) may take.
  millis connect_timeout{10000};
  /// Heartbeats, so that a frozen node is noticed (see network_options).
  nodes::network_options network{};
};

/// A C++ program's connection to a durable node's gateway
/// (durable/nodes/gateway.hpp): enqueue, get, wait, cancel and wake
/// executions of tasks registered on the node, without running any.
///
/// The client owns an actor system of its own (middleman, heartbeats,
/// durable's wire types); task_ref<In, Out> values are built from task ids
/// (`durable::task_ref<int, int>{"add_one"}`), no body is registered here.
///
/// Threading: every call blocks the calling thread until the node answers
/// and is safe from any thread, except from an actor of this client's own
/// actor system. Waits are pushed by the node (no polling) and occupy no
/// thread on either side while pending besides the caller's.
///
/// Errors: every call throws durable::error. A call the node refuses throws
/// the node's error (same kind, message and retryable flag as the facade
/// throws in-process). A node that dies, closes the connection or stops
/// answering heartbeats fails every pending and later call with a
/// retryable internal error "Connection to durable node lost …"; no call
/// hangs on a dead node. The constructor throws "Cannot connect to durable
/// node …" when the node cannot be reached within `connect_timeout`.
///
/// Security: CAF 0.17 has no authentication; nodes accept connections on
/// loopback only.
class client {
public:
  /// Starts the client's actor system and connects to the node's gateway,
  /// blocking for at most `opts.connect_timeout`.
  /// @throws durable::error "Cannot connect to durable node …": nothing is
  ///         published on the port, or not a durable executor of this
  ///         version (non-retryable), or the node cannot be reached
  ///         (retryable).
  explicit client(client_options opts);

  /// Disconnects and stops the client's actor system. Calls must have
  /// returned.
  ~client();

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // -- typed API --------------------------------------------------------------

  /// Persists a new execution of `t` on the node and returns its handle
  /// (executor::enqueue(), remotely).
  template <class In, class Out>
  remote_handle<Out> enqueue(const task_ref<In, Out>& t, const In& input,
                             enqueue_options opts = {}) {
    auto ids = enqueue_raw(t.id(), {to_payload(input)}, opts);
    return remote_handle<Out>{this, t.id(), std::move(ids.front())};
  }

  /// Persists one execution of `t` per input, in one batch; the handles
  /// are in the order of `inputs`.
  template <class In, class Out>
  std::vector<remote_handle<Out>> enqueue_many(const task_ref<In, Out>& t,
                                               const std::vector<In>& inputs,
                                               enqueue_options opts = {}) {
    std::vector<std::string> payloads;
    payloads.reserve(inputs.size());
    for (const auto& x : inputs)
      payloads.push_back(to_payload(x));
    auto ids = enqueue_raw(t.id(), std::move(payloads), opts);
    std::vector<remote_handle<Out>> result;
    result.reserve(ids.size());
    for (auto& id : ids)
      result.emplace_back(this, t.id(), std::move(id));
    return result;
  }

  /// A handle on an execution enqueued earlier (by any client or node).
  template <class In, class Out>
  remote_handle<Out>
  get_handle(const task_ref<In, Out>& t, std::string execution_id) {
    return remote_handle<Out>{this, t.id(), std::move(execution_id)};
  }

  /// Completes the sleeping execution of `t` known by `sleeping_id` with
  /// `outcome`'s output; returns it as finished. Waking one that already
  /// finished returns it unchanged (executor::wake()).
  template <class Out>
  execution_record wake(const task_ref<std::string, Out>& t,
                        const std::string& sleeping_id,
                        wake_completed<Out> outcome) {
    return wake_raw(t.id(), sleeping_id, to_payload(outcome.output), {});
  }

  /// Fails the sleeping execution with `outcome`'s message, non-retryable.
  template <class Out>
  execution_record wake(const task_ref<std::string, Out>& t,
                        const std::string& sleeping_id, wake_failed outcome) {
    return wake_raw(t.id(), sleeping_id, std::nullopt, outcome.message);
  }

  // -- untyped API (JSON text payloads) ---------------------------------------

  /// Enqueues executions of `task_id`, one per JSON input; returns their
  /// ids in order (executor::enqueue_raw(): the node checks the inputs).
  std::vector<std::string> enqueue_raw(const std::string& task_id,
                                       std::vector<std::string> inputs,
                                       const enqueue_options& opts = {});

  /// The execution as stored now; throws not-found.
  execution_record get(const std::string& execution_id);

  /// Waits until the execution finished.
  execution_record wait(const std::string& execution_id);

  /// Waits at most `timeout`; nullopt if it had not finished by then.
  std::optional<execution_record> wait_for(const std::string& execution_id,
                                           millis timeout);

  /// Cancels the execution; returns it as stored afterwards.
  execution_record cancel(const std::string& execution_id);

  /// Wakes a sleeping execution with `output` (JSON text) or, when it is
  /// nullopt, fails it with `error_message` (executor::wake_raw()).
  execution_record
  wake_raw(const std::string& task_id, const std::string& sleeping_id,
           std::optional<std::string> output, const std::string& error_message);

  /// The options the client was built with.
  const client_options& options() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// -- remote_handle members ----------------------------------------------------

template <class Out>
execution_record remote_handle<Out>::get() const {
  return client_->get(execution_id_);
}

template <class Out>
finished<Out> remote_handle<Out>::wait() const {
  return make_finished<Out>(client_->wait(execution_id_));
}

template <class Out>
std::optional<finished<Out>>
remote_handle<Out>::wait_for(millis timeout) const {
  auto r = client_->wait_for(execution_id_, timeout);
  if (!r)
    return std::nullopt;
  return make_finished<Out>(std::move(*r));
}

template <class Out>
execution_record remote_handle<Out>::cancel() const {
  return client_->cancel(execution_id_);
}

} // namespace durable
