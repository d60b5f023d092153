// The execution actor as a supervisor: storing children, a step or a
// finalize task, waiting for their ends (announced, or read back), and
// doing what next_step decides once they ended. See
// execution_actor_impl.hpp.

#include <caf/all.hpp>

#include "durable/actors/execution_actor_impl.hpp"
#include "durable/transitions.hpp"

namespace durable::actors::detail {

using verdict = child_tracker::verdict;

void execution_actor::act(next_step::move m,
                          std::optional<std::string> run_output) {
  if (auto* c = std::get_if<next_step::complete>(&m)) {
    if (c->built && !check_output(c->output))
      return;
    end_with(transitions::complete(take_row(), std::move(c->output), now()));
  } else if (auto* f = std::get_if<next_step::fail>(&m)) {
    end_with(transitions::finish(row_, f->status, std::nullopt,
                                 std::move(f->error), now()));
  } else if (auto* s = std::get_if<next_step::start_step>(&m)) {
    auto child = make_child(step_child(*def_, s->index, std::move(s->input)));
    if (!child)
      return;
    write(transitions::next_step(take_row(), std::move(*child), now()),
          then::await_children);
  } else if (auto* fin = std::get_if<next_step::finalize>(&m)) {
    finalize(std::move(fin->input), std::move(run_output));
  } else if (auto* w = std::get_if<next_step::wait_for>(&m)) {
    // Children announced finished while the read was in flight are not
    // waited for again: if that leaves none, read once more.
    follow(children_.on_unfinished(w->unfinished));
  }
}

std::optional<execution_record> execution_actor::make_child(child_spec spec) {
  auto def = rt_->tasks->find(spec.task_id);
  auto made = make_child_row(row_, def.get(), std::move(spec),
                             rt_->options.max_input_bytes, now());
  if (auto* e = std::get_if<execution_error>(&made)) {
    fail(std::move(*e));
    return std::nullopt;
  }
  return std::move(std::get<execution_record>(made));
}

void execution_actor::finalize(std::string input,
                               std::optional<std::string> run_output) {
  if (def_->finalize_function) {
    run_inline_finalize(std::move(input));
    return;
  }
  auto fin = make_child({def_->finalize_task,
                         std::move(input),
                         {},
                         static_cast<std::uint32_t>(row_.children.size()),
                         1,
                         true});
  if (!fin)
    return;
  if (may_finalize_here(*fin))
    take_finalize(std::move(*fin), std::move(run_output));
  else
    store_finalize(std::move(*fin), std::move(run_output));
}

void execution_actor::store_finalize(execution_record fin,
                                     std::optional<std::string> run_output) {
  write(transitions::wait_for_finalize(take_row(), std::move(run_output),
                                       std::move(fin), now()),
        then::await_children);
}

void execution_actor::supervise() {
  phase_ = phase::supervising;
  check_children();
}

void execution_actor::await_children() {
  phase_ = phase::supervising;
  // The children it waits for now: its finalize task, its current step,
  // or all of them.
  auto one = single_awaited();
  follow(one ? children_.on_write_applied(*one)
             : children_.on_write_applied(row_.children));
}

void execution_actor::follow(verdict v) {
  if (v == verdict::check)
    check_children();
  else
    arm_recheck();
}

void execution_actor::check_children_if(verdict v) {
  if (v == verdict::check)
    check_children();
}

child_tracker::activity execution_actor::activity() const {
  switch (phase_) {
    case phase::writing:
      return child_tracker::activity::writing;
    case phase::supervising:
      return child_tracker::activity::waiting;
    default:
      return child_tracker::activity::busy;
  }
}

void execution_actor::check_children(bool all) {
  if (children_.reading())
    return;
  // Rows announced with their ends need no read.
  auto one = single_awaited();
  if (!all) {
    if (one) {
      if (auto known = children_.take_finished(*one)) {
        on_awaited_row(std::move(*known));
        return;
      }
    } else if (row_.status == execution_status::waiting_for_children) {
      if (auto kids = children_.take_all_finished(row_.children)) {
        act(next_step::after_children(row_, *def_, std::move(*kids)));
        return;
      }
    }
  }
  children_.read_started();
  // A reply may read again at once (the read ends first); the
  // announcements it discounted are dropped after it.
  auto failed = [this](caf::error&) {
    children_.read_failed();
    arm_recheck();
  };
  if (one && !all) {
    request(storage_, caf::infinite, fetch_atom::value, *one)
      .then(
        [this](maybe_record& r) {
          children_.read_returned();
          if (phase_ == phase::supervising)
            on_awaited_row(std::move(r.record));
          children_.read_handled();
        },
        failed);
    return;
  }
  request(storage_, caf::infinite, children_atom::value, row_.id)
    .then(
      [this](std::vector<execution_record>& kids) {
        children_.read_returned();
        if (phase_ == phase::supervising)
          act(next_step::after_children(row_, *def_, std::move(kids)));
        children_.read_handled();
      },
      failed);
}

std::optional<std::string> execution_actor::single_awaited() const {
  if (row_.status == execution_status::waiting_for_finalize && row_.finalize)
    return row_.finalize->execution_id;
  const bool stepwise = row_.kind == task_kind::sequence
                        || row_.kind == task_kind::loop;
  if (stepwise && !row_.children.empty())
    return row_.children.back().execution_id;
  return std::nullopt;
}

void execution_actor::on_awaited_row(std::optional<execution_record> child) {
  if (row_.status == execution_status::waiting_for_finalize) {
    act(next_step::after_finalize_task(row_, child ? &*child : nullptr));
    return;
  }
  if (!child) {
    // A step is missing: fail with what a read of all children finds.
    check_children(true);
    return;
  }
  act(next_step::after_current_step(row_, *def_, *child));
}

void execution_actor::arm_recheck() {
  if (recheck_token_ == 0)
    recheck_token_ = rt_->set_timer(caf::actor_cast<caf::actor>(this),
                                    std::chrono::duration_cast<caf::timespan>(
                                      rt_->options.supervisor_recheck_interval),
                                    caf::make_message(recheck_atom::value));
}

} // namespace durable::actors::detail
