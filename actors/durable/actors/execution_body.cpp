// The execution actor's body runs: launching a body (inline or on the
// worker pool), its timeout, and what its outcome makes of the row; an
// inline finalize function's run. See execution_actor_impl.hpp.

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/execution_actor_impl.hpp"
#include "durable/payload.hpp"
#include "durable/retry.hpp"
#include "durable/transitions.hpp"

namespace durable::actors::detail {

namespace {

execution_error non_retryable(std::string message) {
  return {error_kind::generic, std::move(message), false, false};
}

} // namespace

void execution_actor::launch_body(const task_definition_ptr& def,
                                  const execution_record& row) {
  if (!def->options.may_block) {
    on_body_done(run_inline(*rt_, *def, row, *lease_));
    return;
  }
  // Only a body on another thread can be asked to stop while it runs.
  cancel_ = std::stop_source{};
  timeout_token_ = rt_->new_timer_token();
  submit_body(
    rt_, body_job{
           def, context_of(row, cancel_.get_token(), rt_->shutdown.get_token()),
           row.input, row.timeout, timeout_token_, lease_,
           caf::actor_cast<caf::actor>(this), slot_.share(dispatcher_)});
}

void execution_actor::on_timeout() {
  timeout_token_ = 0;
  if (phase_ == phase::finalize_here && fin_ && fin_->row) {
    cancel_.request_stop();
    body_outcome out;
    out.error = timed_out_error();
    on_finalize_here_done(std::move(out));
    return;
  }
  if (phase_ != phase::running_body)
    return;
  cancel_.request_stop();
  fail(timed_out_error());
}

void execution_actor::on_body_done(body_outcome out) {
  if (recovery_ && recovery_->discard) {
    end();
    return;
  }
  if (out.skipped != body_outcome::skip::none) {
    on_not_started(out.skipped);
    return;
  }
  if (phase_ == phase::finalizing) {
    on_finalize_done(std::move(out));
    return;
  }
  if (phase_ == phase::finalize_here) {
    if (fin_ && fin_->row) // not a late result after a timeout
      on_finalize_here_done(std::move(out));
    return;
  }
  if (phase_ != phase::running_body)
    return; // a late result after a timeout: discarded
  cancel_timeout();
  if (out.parent && !out.error) {
    on_parent_run(std::move(*out.parent));
    return;
  }
  auto delay = out.error ? retry_delay(row_.retry, row_.attempt, rt_->random)
                         : millis{0};
  end_with(transitions::run_returned(
    take_row(), std::move(out.output), std::move(out.error),
    rt_->options.max_output_bytes, delay, now()));
}

bool execution_actor::body_running() const {
  return phase_ == phase::running_body || phase_ == phase::finalizing
         || (phase_ == phase::finalize_here && fin_ && fin_->row);
}

void execution_actor::on_not_started(body_outcome::skip why) {
  if (phase_ == phase::done)
    return;
  if (why == body_outcome::skip::lease && body_running()) {
    report_lease_lost("did not start: its lease may have passed (the node "
                      "was frozen or too busy); it is handed back");
    // Maybe still ours: give it back, guarded by its version, so that it
    // runs again at once rather than after an orphan sweep. If another
    // node took it, the write conflicts and the actor ends. A parent whose
    // finalize did not start is given back as it waits: its next owner
    // reads its children and finalizes.
    fin_.reset();
    phase_ = phase::writing;
    hand_back(take_row());
    return;
  }
  // Stopped, or draining: the node hands its leases back. A finalize run
  // here that did not start: the parent's adopter stores and runs it.
  end();
}

void execution_actor::fail(execution_error e) {
  auto delay = retry_delay(row_.retry, row_.attempt, rt_->random);
  end_with(transitions::fail_run(take_row(), std::move(e), now(), delay));
}

bool execution_actor::check_output(const std::string& output) {
  auto e = payload_problem("Output", output, rt_->options.max_output_bytes);
  if (!e)
    return true;
  end_with(transitions::finish(row_, execution_status::failed, std::nullopt,
                               std::move(e), now()));
  return false;
}

void execution_actor::on_parent_run(parent_run pr) {
  if (!check_output(pr.output))
    return;
  auto n = pr.children.size();
  if (n > rt_->options.max_children) {
    fail(non_retryable(
      fmt::format("Parent task tried to spawn more than max children tasks "
                  "[maxChildren={}] [childrenCount={}]",
                  rt_->options.max_children, n)));
    return;
  }
  std::vector<execution_record> kids;
  kids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& req = pr.children[i];
    auto c = make_child({req.task_id, std::move(req.input), req.options,
                         static_cast<std::uint32_t>(i), n, false});
    if (!c)
      return;
    kids.push_back(std::move(*c));
  }
  if (!kids.empty()) {
    write(transitions::wait_for_children(take_row(), std::move(pr.output),
                                         std::move(kids), now()),
          then::await_children);
    return;
  }
  auto outcome = transitions::children_outcome(pr.output, {});
  act(next_step::parent_done(*def_, std::move(outcome)), std::move(pr.output));
}

void execution_actor::run_inline_finalize(std::string input) {
  phase_ = phase::finalizing;
  // As the reference's: the moment the finalize function runs.
  row_.waiting_for_finalize_started_at = now();
  if (!def_->options.may_block) {
    if (rt_->lease_may_have_passed(*lease_))
      on_not_started(body_outcome::skip::lease);
    else
      on_finalize_done(run_finalize(*def_, input));
    return;
  }
  submit_finalize_function(rt_, def_, std::move(input), lease_,
                           caf::actor_cast<caf::actor>(this));
}

void execution_actor::on_finalize_done(body_outcome out) {
  if (out.error) {
    end_with(transitions::finish(row_, execution_status::finalize_failed,
                                 std::nullopt, std::move(out.error), now()));
    return;
  }
  auto output = std::move(out.output).value_or("null");
  if (!check_output(output))
    return;
  end_with(transitions::complete(take_row(), std::move(output), now()));
}

} // namespace durable::actors::detail
