#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>

#include "durable/actors/wire.hpp"
#include "durable/execution_record.hpp"
#include "durable/options.hpp"

namespace durable::actors {

/// The executor as a typed CAF actor: what a user's CAF program (or the
/// node's gateway, or a remote client) sends to enqueue, read, wait on,
/// cancel and wake executions. Obtain it from `durable::executor::actor()`.
/// To send to it, include <caf/typed_actor.hpp> (or <caf/all.hpp>): this
/// header only names the interface, to keep CAF's heavy headers out of the
/// facade.
///
/// Messages (JSON text payloads, as the facade's untyped calls):
///
/// - `(enqueue, task_id, inputs, enqueue_options)` -> execution ids, in input
///   order (for a repeated idempotency key, the first execution's id);
/// - `(get, execution_id)` -> the stored execution;
/// - `(wait, execution_id)` -> the execution once it finished;
/// - `(wait, execution_id, timeout)` -> `wait_reply`: the finished execution,
///   or no record when it had not finished within `timeout`;
/// - `(cancel, execution_id)` -> the execution as stored afterwards;
/// - `(wake, wake_request)` -> the woken (finished) sleeping execution.
///
/// Errors: a refused call answers with a caf::error of durable's category
/// (wire_errors.hpp) carrying the same durable::error kind and message the
/// facade throws: the facade and the actor share their checks
/// (requests.hpp). A call never changes a stored execution when refused.
///
/// Threading: the actor never blocks. Every call is answered through a
/// response promise when the storage actor (or, for waits, the dispatcher's
/// watch) answers; a wait is answered by the store's announcement that the
/// execution finished or by the dispatcher's re-check of its waiters (the
/// bound of handle::wait()), and its timeout is the request's.
///
/// Lifetime: spawned with the executor and stopped by its shutdown. Waits
/// in progress then get durable's error "Executor shut down while waiting
/// [executionId=…]" (generic, non-retryable); calls after that fail with
/// the sender's usual "actor down" error.
using executor_actor = caf::typed_actor<
  caf::replies_to<enqueue_atom, std::string, std::vector<std::string>,
                  enqueue_options>::with<std::vector<std::string>>,
  caf::replies_to<caf::get_atom, std::string>::with<execution_record>,
  caf::replies_to<wait_atom, std::string>::with<execution_record>,
  caf::replies_to<wait_atom, std::string, caf::timespan>::with<wait_reply>,
  caf::replies_to<cancel_atom, std::string>::with<execution_record>,
  caf::replies_to<wake_atom, wake_request>::with<execution_record>>;

struct runtime;

/// Spawns the executor actor of the engine that `rt` describes.
executor_actor spawn_executor_actor(caf::actor_system& sys,
                                    std::shared_ptr<runtime> rt);

} // namespace durable::actors
