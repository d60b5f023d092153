#include "durable/actors/body_run.hpp"

#include <chrono>
#include <utility>

#include <caf/all.hpp>

namespace durable::actors {

namespace {

/// Why a body taken from the worker pool's queue must not start, checked
/// on the worker thread right before it would: its actor ended (a cancel,
/// a lost lease: nobody would store its outcome), the node is draining
/// (its leases are being handed back, so another node runs it), or its
/// lease may have passed while it waited or while the node was frozen
/// (another node may run it already). `lease` is that of the row the
/// outcome is written against: for a finalize task run here, its parent's.
body_outcome::skip start_refused(const runtime& rt, const task_context& ctx,
                                 const row_lease& lease) {
  if (ctx.cancel_token.stop_requested())
    return body_outcome::skip::stopped;
  if (ctx.shutdown_token.stop_requested())
    return body_outcome::skip::draining;
  if (rt.lease_may_have_passed(lease))
    return body_outcome::skip::lease;
  return body_outcome::skip::none;
}

} // namespace

shared_slot::~shared_slot() {
  if (armed_)
    caf::anon_send(dispatcher_, slot_free_atom::value, true); // blocking
}

shared_slot_ptr body_slot::share(caf::actor dispatcher) {
  held_ = false;
  shared_ = caf::make_counted<shared_slot>(std::move(dispatcher));
  return shared_;
}

bool body_slot::release() noexcept {
  bool freed = std::exchange(held_, false);
  if (shared_) {
    // The last holder frees it: if the worker let go already, this actor
    // does so in its own message. Otherwise the worker's drop sends it.
    if (shared_->unique()) {
      shared_->disarm();
      freed = true;
    }
    shared_.reset();
  }
  return freed;
}

task_context context_of(const execution_record& row, std::stop_token cancel,
                        std::stop_token shutdown) {
  return task_context{row.task_id,
                      row.id,
                      row.attempt,
                      row.error,
                      row.parent,
                      row.root,
                      row.traceparent.to_optional(),
                      std::move(cancel),
                      std::move(shutdown)};
}

body_outcome run_body(const task_definition& def, task_context& ctx,
                      const std::string& input) {
  body_outcome out;
  try {
    if (def.kind == task_kind::parent)
      out.parent = def.run_parent(ctx, input);
    else
      out.output = def.run(ctx, input);
  } catch (...) {
    out.error = to_execution_error(std::current_exception());
  }
  return out;
}

body_outcome run_finalize(const task_definition& def,
                          const std::string& input) {
  body_outcome out;
  try {
    out.output = def.finalize_function(input);
  } catch (...) {
    auto e = to_execution_error(std::current_exception());
    out.error = execution_error{error_kind::generic, e.message, false, false};
  }
  return out;
}

body_outcome run_inline(const runtime& rt, const task_definition& def,
                        const execution_record& row, const row_lease& lease) {
  if (rt.lease_may_have_passed(lease)) {
    body_outcome out;
    out.skipped = body_outcome::skip::lease;
    return out;
  }
  auto ctx = context_of(row, std::stop_token{}, rt.shutdown.get_token());
  auto started = std::chrono::steady_clock::now();
  auto out = run_body(def, ctx, row.input);
  if (std::chrono::steady_clock::now() - started > row.timeout) {
    out = body_outcome{};
    out.error = timed_out_error();
  }
  return out;
}

void submit_body(const runtime_ptr& rt, body_job job) {
  // std::function needs a copyable job: the worker owns it through this.
  auto j = std::make_shared<body_job>(std::move(job));
  rt->workers->submit([rt, j]() mutable {
    body_outcome out;
    out.skipped = start_refused(*rt, j->ctx, *j->lease);
    if (out.skipped == body_outcome::skip::none) {
      rt->set_timer(j->timer, j->self,
                    std::chrono::duration_cast<caf::timespan>(j->timeout),
                    caf::make_message(timeout_atom::value));
      out = run_body(*j->def, j->ctx, j->input);
    }
    caf::anon_send(j->self, body_done_atom::value, std::move(out));
    j->slot.reset(); // after the outcome is on its way
  });
}

void submit_finalize_function(const runtime_ptr& rt, task_definition_ptr def,
                              std::string input, row_lease_ptr lease,
                              caf::actor self) {
  rt->workers->submit([def = std::move(def), input = std::move(input), rt,
                       lease = std::move(lease), self = std::move(self)] {
    body_outcome out;
    if (rt->lease_may_have_passed(*lease))
      out.skipped = body_outcome::skip::lease;
    else
      out = run_finalize(*def, input);
    caf::anon_send(self, body_done_atom::value, std::move(out));
  });
}

} // namespace durable::actors
