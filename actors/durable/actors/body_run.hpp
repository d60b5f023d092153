#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/intrusive_ptr.hpp>
#include <caf/ref_counted.hpp>

#include "durable/actors/messages.hpp"
#include "durable/actors/row_lease.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/task_definition.hpp"

/// Running one body of an execution actor: inline on the actor (a task
/// that may not block) or on the node's worker pool, with its timeout, its
/// cancel source and its share of the node's concurrency slot.
///
/// Threading: body_slot belongs to one execution actor; a shared_slot is
/// dropped by whichever thread lets go of it last. submit_body() and
/// submit_finalize_function() run their job on a worker thread, which
/// talks to the actor and the dispatcher only by messages.
namespace durable::actors {

/// The concurrency slot of one body on the worker pool, shared by the job
/// (the worker holds it until the body returned) and the execution actor
/// (until it stored the outcome or ended): dropping the last reference
/// frees it with `(slotfree, true)` to the dispatcher, unless the actor,
/// holding the last one, frees it in a message of its own (disarm()). So a
/// body that outlives its deadline keeps its slot busy, and a drain that
/// sees no busy slot knows every outcome is stored. A job the pool drops
/// unrun frees its share too.
class shared_slot : public caf::ref_counted {
public:
  explicit shared_slot(caf::actor dispatcher)
    : dispatcher_(std::move(dispatcher)) {}

  ~shared_slot() override;

  void disarm() noexcept {
    armed_ = false;
  }

private:
  caf::actor dispatcher_;
  bool armed_ = true;
};

using shared_slot_ptr = caf::intrusive_ptr<shared_slot>;

/// An execution actor's hold on the node's concurrency slot (see
/// takes_slot() in execution_actor.hpp): from its claim (or the take of a
/// finalize run here) until its outcome is stored, shared with the worker
/// while a body runs on the pool.
class body_slot {
public:
  explicit body_slot(bool held) noexcept : held_(held) {}

  /// Whether this actor holds a slot, alone or with a worker.
  bool held() const noexcept {
    return held_ || shared_;
  }

  /// A take gave this actor a slot (a finalize task run here).
  void hold() noexcept {
    held_ = true;
  }

  /// Shares the slot with a body about to be queued on the worker pool:
  /// the job keeps the returned reference until the body returned.
  shared_slot_ptr share(caf::actor dispatcher);

  /// Lets go of this actor's hold; true if that freed the slot, which the
  /// caller then tells the dispatcher in its own message.
  [[nodiscard]] bool release() noexcept;

private:
  bool held_;
  shared_slot_ptr shared_;
};

/// What a run of `row`'s body knows about it, with the run's tokens.
task_context context_of(const execution_record& row, std::stop_token cancel,
                        std::stop_token shutdown);

/// Runs a body and turns whatever it throws into an execution error.
body_outcome run_body(const task_definition& def, task_context& ctx,
                      const std::string& input);

/// Runs an inline finalize function; its errors are never retried and
/// keep only their message (as the reference does).
body_outcome run_finalize(const task_definition& def, const std::string& input);

/// Runs `row`'s body on the calling actor, now. Nothing can interrupt it
/// (the actor handles no message until it returns), so no timer is set
/// and its cancel token never fires; a run that took longer than its
/// timeout still counts as timed out once it returns. Like a body on the
/// worker pool, it does not start once its lease may have passed (the
/// actor may have waited in a busy scheduler, the node may have been
/// frozen): `skipped` is then `lease`.
body_outcome run_inline(const runtime& rt, const task_definition& def,
                        const execution_record& row, const row_lease& lease);

/// A body for the worker pool.
struct body_job {
  task_definition_ptr def;
  task_context ctx;
  std::string input;
  millis timeout;
  /// The token of the timeout timer, set by the worker as the body starts
  /// (a body may wait on the pool first: the timeout counts from its
  /// start).
  std::uint64_t timer;
  /// The lease of the row the outcome is written against.
  row_lease_ptr lease;
  caf::actor self;
  shared_slot_ptr slot;
};

/// Queues `job`. The worker first checks that the body may still start
/// (its actor did not end, the node is not draining, its lease cannot
/// have passed), then sets the timeout and runs it, sends `(bodydone,
/// body_outcome)` to the actor and lets go of its slot share.
void submit_body(const runtime_ptr& rt, body_job job);

/// Queues an inline finalize function of a task that may block; reports
/// as submit_body() does, with no timeout and no slot of its own.
void submit_finalize_function(const runtime_ptr& rt, task_definition_ptr def,
                              std::string input, row_lease_ptr lease,
                              caf::actor self);

} // namespace durable::actors
