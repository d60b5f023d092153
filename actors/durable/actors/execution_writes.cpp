// The execution actor's writes: each a guarded transition sent to the
// storage actor (or through the dispatcher, which may store new children
// already claimed here), and what happens when one fails or is refused
// (write_recovery.hpp decides). See execution_actor_impl.hpp.

#include <algorithm>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/execution_actor_impl.hpp"
#include "durable/transitions.hpp"

namespace durable::actors::detail {

namespace {

execution_error non_retryable(std::string message) {
  return {error_kind::generic, std::move(message), false, false};
}

} // namespace

void execution_actor::write(transition t, then next) {
  auto prev = phase_;
  phase_ = phase::writing;
  // New ready children go through the dispatcher while it may store some
  // of them already claimed by this node (runtime::local_claims); it
  // answers as the storage actor does.
  const bool may_take = std::any_of(
    t.children.begin(), t.children.end(), [](const execution_record& c) {
      return c.status == execution_status::ready;
    });
  const auto& target = may_take
                           && rt_->local_claims.load(std::memory_order_relaxed)
                         ? dispatcher_
                         : storage_;
  const auto mark = write_mark::of(t);
  request(target, caf::infinite, apply_atom::value, std::move(t))
    .then(
      [this, prev, next, mark](write_outcome& out) {
        if (out.status == write_status::rejected && out.current) {
          // A child's sleeping id (or key) is taken: a permanent error.
          row_ = std::move(*out.current);
          end_with(transitions::finish(
            row_, execution_status::failed, std::nullopt,
            non_retryable("Cannot create children: a child's sleeping task "
                          "unique id or idempotency key exists already"),
            now()));
          return;
        }
        if (out.status == write_status::refused) {
          on_refused(mark, std::move(out));
          return;
        }
        if (out.status != write_status::applied || !out.current) {
          end(); // cancelled or taken over: our view is stale
          return;
        }
        on_written(std::move(*out.current), prev, next);
      },
      [this, prev, next, mark](caf::error&) {
        // Nothing says whether the commit happened: read the row back.
        recover_write(mark, prev, next);
      });
}

void execution_actor::end_with(transition t) {
  ending_ = true; // end() gives the slot back with its last message
  write(std::move(t), then::end);
}

void execution_actor::on_written(execution_record stored, phase prev,
                                 then next) {
  if (ending_) {
    if (recovery_ && recovery_->handing_back) // the next take-over runs it
      send(dispatcher_, handback_atom::value);
    end(); // stored; end() needs only the id, which row_ kept
    return;
  }
  row_ = std::move(stored);
  phase_ = prev;
  if (row_.status != execution_status::running)
    free_slot(); // the body's outcome is stored
  if (next == then::await_children)
    await_children();
  else
    end();
}

void execution_actor::recover_write(write_mark mark, phase prev,
                                    std::optional<then> next) {
  auto& rec = recovery();
  rec.mark = mark;
  rec.due = true;
  rec.prev = prev;
  rec.next = next;
  reread();
}

void execution_actor::reread() {
  request(storage_, caf::infinite, fetch_atom::value, row_.id)
    .then(
      [this](maybe_record& r) {
        if (phase_ != phase::done)
          settle(std::move(r.record));
      },
      [this](caf::error&) {
        // The store does not answer yet: read again after a backoff (50 ms
        // doubling to 2 s), while the lease keeper holds the row.
        rt_->set_timer(caf::actor_cast<caf::actor>(this),
                       std::chrono::duration_cast<caf::timespan>(
                         reread_delay(recovery_->rereads++)),
                       caf::make_message(reread_atom::value));
      });
}

void execution_actor::settle(std::optional<execution_record> stored) {
  auto& rec = *recovery_;
  rec.due = false;
  rec.rereads = 0;
  switch (settle_write(rec.mark, stored, rt_->incarnation)) {
    case read_back::applied:
      if (rec.next)
        on_written(std::move(*stored), rec.prev, *rec.next);
      else
        end();
      return;
    case read_back::hand_back:
      hand_back(std::move(*stored));
      return;
    case read_back::moved_on:
      end();
      return;
  }
}

void execution_actor::hand_back(execution_record stored) {
  recovery().handing_back = true;
  end_with(transitions::hand_back(std::move(stored), now()));
}

void execution_actor::on_refused(write_mark mark, write_outcome out) {
  auto& rec = recovery();
  switch (on_refusal(mark, out, rec.refusal_stored, rec.handing_back)) {
    case after_refusal::read_back:
      recover_write(mark, phase_, std::nullopt);
      return;
    case after_refusal::moved_on:
    case after_refusal::give_up:
      end();
      return;
    case after_refusal::hand_back:
      hand_back(std::move(*out.current));
      return;
    case after_refusal::record_failure:
      rec.refusal_stored = true;
      ending_ = true;
      end_with(transitions::finish(
        std::move(*out.current), execution_status::failed, std::nullopt,
        non_retryable(fmt::format("Task execution outcome could not be "
                                  "stored: {}",
                                  out.reason)),
        now()));
      return;
  }
}

} // namespace durable::actors::detail
