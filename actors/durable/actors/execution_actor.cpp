#include "durable/actors/execution_actor.hpp"

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/execution_actor_impl.hpp"
#include "durable/transitions.hpp"

namespace durable::actors {

namespace detail {

execution_actor::execution_actor(caf::actor_config& cfg, runtime_ptr rt,
                                 execution_record row, row_lease_ptr lease)
  : caf::event_based_actor(cfg),
    rt_(std::move(rt)),
    storage_(rt_->storage),
    dispatcher_(rt_->dispatcher),
    row_(std::move(row)),
    lease_(std::move(lease)),
    slot_(takes_slot(row_)) {
  def_ = rt_->tasks->find(row_.task_id);
}

caf::behavior execution_actor::make_behavior() {
  start();
  return {
    [this](body_done_atom, body_outcome& out) { on_body_done(std::move(out)); },
    [this](timeout_atom) { on_timeout(); },
    [this](cancel_atom) {
      cancel_.request_stop();
      stop();
    },
    [this](child_done_atom, const std::string& id, finished_row& row) {
      check_children_if(children_.on_announced(id, std::move(row), activity()));
    },
    [this](recheck_atom) {
      recheck_token_ = 0;
      if (phase_ == phase::supervising)
        check_children();
    },
    [this](resync_atom) {
      // Announcements of children's ends may have been lost.
      check_children_if(children_.on_resync(activity()));
    },
    [this](reread_atom) {
      if (recovery_ && recovery_->due && phase_ != phase::done)
        reread();
    },
    [this](lost_atom) {
      // Another node took the row over (our lease expired): stop the body
      // and drop our view without writing; the version would fence a late
      // write anyway. (With its last write in flight, the row just
      // finished: nothing was lost.)
      if (!ending_)
        report_lease_lost("was taken over by another node after this node's "
                          "lease ran out; its body is stopped");
      cancel_.request_stop();
      stop();
    },
    [this](reclaimed_atom) {
      // This node took the row over again (its own lease had run out):
      // nothing this actor writes can apply. It ends now, or when its body
      // returns, so that the dispatcher starts the row again only then
      // (never two bodies of one execution at once).
      report_lease_lost("lost its lease on this node, which claimed it "
                        "again; it runs anew once this run ends");
      cancel_.request_stop();
      if (body_running())
        recovery().discard = true;
      else
        stop();
    },
  };
}

void execution_actor::start() {
  auto first = next_step::at_start(row_, def_.get(),
                                   rt_->options.max_recoveries);
  if (auto* f = std::get_if<next_step::fail>(&first)) {
    end_with(transitions::finish(row_, f->status, std::nullopt,
                                 std::move(f->error), now()));
  } else if (std::holds_alternative<next_step::run_body>(first)) {
    phase_ = phase::running_body;
    launch_body(def_, row_);
  } else if (auto* s = std::get_if<next_step::start_step>(&first)) {
    act(std::move(*s));
  } else if (std::holds_alternative<next_step::adopt>(first)) {
    adopted_ = true;
    supervise();
  } else {
    end();
  }
}

void execution_actor::on_exit() {
  // Killed at shutdown, or ended: a body still running must stop too.
  cancel_.request_stop();
}

void execution_actor::stop() {
  if (taking_)
    stop_after_take_ = true;
  else
    end();
}

void execution_actor::end() {
  if (phase_ == phase::done)
    return;
  phase_ = phase::done;
  // The row moved on without us (cancelled, taken over after a lost lease,
  // or finished): a body still running should stop.
  cancel_.request_stop();
  cancel_timeout();
  if (recheck_token_ != 0)
    rt_->cancel_timer(recheck_token_);
  // One message both drops this actor from the dispatcher and, if it still
  // held one, frees its slot.
  send(dispatcher_, gone_atom::value, std::move(row_.id), address(),
       slot_.release());
  quit();
}

execution_record execution_actor::take_row() {
  auto r = std::move(row_);
  row_.id = r.id;
  return r;
}

void execution_actor::cancel_timeout() {
  if (timeout_token_ != 0) {
    rt_->cancel_timer(timeout_token_);
    timeout_token_ = 0;
  }
}

void execution_actor::free_slot() {
  if (slot_.release())
    send(dispatcher_, slot_free_atom::value, row_.id);
}

timestamp execution_actor::now() const {
  return rt_->now();
}

void execution_actor::report_lease_lost(std::string_view why) const {
  engine_event ev;
  ev.kind = engine_event::type::lease_lost;
  ev.level = engine_event::severity::warning;
  ev.execution_id = row_.id;
  ev.task_id = row_.task_id;
  ev.traceparent = std::string{row_.traceparent.value_or("")};
  ev.message = fmt::format("execution {} {}", row_.id, why);
  rt_->report(ev);
}

execution_actor::write_recovery& execution_actor::recovery() {
  if (!recovery_)
    recovery_ = std::make_unique<write_recovery>();
  return *recovery_;
}

// Every running execution holds one of these. jemalloc (docs/allocator.md)
// serves it from the size class at or above its size: 2,048 bytes is one,
// the next is 2,560. Growing past it costs each running execution 512
// bytes of memory that nothing uses.
static_assert(sizeof(caf::actor_storage<execution_actor>) <= 2048,
              "an execution actor no longer fits jemalloc's 2 KiB class");

} // namespace detail

bool takes_slot(const execution_record& r) noexcept {
  return r.status == execution_status::running
         && (r.kind == task_kind::task || r.kind == task_kind::parent);
}

caf::actor spawn_execution(caf::event_based_actor* spawner, runtime_ptr rt,
                           execution_record row, row_lease_ptr lease) {
  return spawner->spawn<detail::execution_actor>(std::move(rt), std::move(row),
                                                 std::move(lease));
}

} // namespace durable::actors
