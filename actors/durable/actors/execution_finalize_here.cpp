// A finalize task run beside its parent.
//
// A parent that stored its children itself runs its finalize task on its
// own actor before the finalize row exists, when the node has a slot to
// spare (the dispatcher marks the row claimed by this node, as for any
// new row it takes locally). Its outcome and the parent's end are then
// one commit (transitions::finalize_ran) instead of three: the finalize's
// insert, its completion and the parent's. If the node dies meanwhile,
// nothing was stored: the parent's adopter (adopted_) stores the finalize
// row and runs it the ordinary way, so a finalize that crashes its node
// still counts recoveries and fails past max_recoveries. See
// execution_actor_impl.hpp.

#include <caf/all.hpp>

#include "durable/actors/execution_actor_impl.hpp"
#include "durable/retry.hpp"
#include "durable/transitions.hpp"

namespace durable::actors::detail {

/// Not while this actor still holds its own body's slot (a parent body that
/// spawned no children): the finalize would need a second one.
bool execution_actor::may_finalize_here(const execution_record& fin) const {
  return !adopted_ && !slot_.held() && rt_->options.claim_on_insert
         && fin.kind == task_kind::task
         && rt_->local_claims.load(std::memory_order_relaxed);
}

void execution_actor::take_finalize(execution_record fin,
                                    std::optional<std::string> run_output) {
  phase_ = phase::finalize_here;
  taking_ = true;
  fin_ = std::make_unique<finalize_run>();
  fin_->run_output = std::move(run_output);
  request(dispatcher_, caf::infinite, take_atom::value, fin)
    .then(
      [this, fin](maybe_record& taken) mutable {
        taking_ = false;
        if (stop_after_take_) {
          if (taken.record)
            send(dispatcher_, slot_free_atom::value, row_.id);
          end();
          return;
        }
        auto def = taken.record ? rt_->tasks->find(taken.record->task_id)
                                : nullptr;
        if (!def) {
          if (taken.record)
            send(dispatcher_, slot_free_atom::value, row_.id);
          auto run = std::move(fin_);
          store_finalize(std::move(fin), std::move(run->run_output));
          return;
        }
        fin_->row = std::move(taken.record);
        slot_.hold(); // the dispatcher counted it as a running body
        launch_body(def, *fin_->row);
      },
      [this](caf::error&) { end(); }); // left to lease expiry
}

void execution_actor::on_finalize_here_done(body_outcome out) {
  cancel_timeout();
  auto run = std::move(fin_);
  auto fin = std::move(*run->row);
  auto delay = out.error ? retry_delay(fin.retry, fin.attempt, rt_->random)
                         : millis{0};
  auto ran = transitions::run_returned(std::move(fin), std::move(out.output),
                                       std::move(out.error),
                                       rt_->options.max_output_bytes, delay,
                                       now());
  // Inserted as the transition would have left it.
  ran.next.version = ran.expected_version + 1;
  auto t = transitions::finalize_ran(take_row(), std::move(run->run_output),
                                     std::move(ran.next), now());
  if (t.next.is_finished())
    end_with(std::move(t));
  else
    write(std::move(t), then::await_children);
}

} // namespace durable::actors::detail
