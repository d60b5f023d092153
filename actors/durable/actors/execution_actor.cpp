#include "durable/actors/execution_actor.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <unordered_map>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/body_run.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/write_recovery.hpp"
#include "durable/assert.hpp"
#include "durable/child_rows.hpp"
#include "durable/next_step.hpp"
#include "durable/transitions.hpp"
#include "durable/utf8.hpp"

namespace durable::actors {

namespace {

using verdict = child_tracker::verdict;

execution_error non_retryable(std::string message) {
  return {error_kind::generic, std::move(message), false, false};
}

caf::timespan to_timespan(millis d) {
  return std::chrono::duration_cast<caf::timespan>(d);
}

class execution_actor : public caf::event_based_actor {
public:
  execution_actor(caf::actor_config& cfg, runtime_ptr rt, execution_record row,
                  row_lease_ptr lease)
    : caf::event_based_actor(cfg),
      rt_(std::move(rt)),
      storage_(rt_->storage),
      dispatcher_(rt_->dispatcher),
      row_(std::move(row)),
      lease_(std::move(lease)),
      slot_(takes_slot(row_)) {
    def_ = rt_->tasks->find(row_.task_id);
  }

  caf::behavior make_behavior() override {
    start();
    return {
      [this](body_done_atom, body_outcome& out) {
        on_body_done(std::move(out));
      },
      [this](timeout_atom) { on_timeout(); },
      [this](cancel_atom) {
        cancel_.request_stop();
        stop();
      },
      [this](child_done_atom, const std::string& id, finished_row& row) {
        if (children_.on_announced(id, std::move(row), activity())
            == verdict::check)
          check_children();
      },
      [this](recheck_atom) {
        recheck_token_ = 0;
        if (phase_ == phase::supervising)
          check_children();
      },
      [this](resync_atom) {
        // Announcements of children's ends may have been lost.
        if (children_.on_resync(activity()) == verdict::check)
          check_children();
      },
      [this](reread_atom) {
        if (recovery_ && recovery_->applied && phase_ != phase::done)
          reread();
      },
      [this](lost_atom) {
        // Another node took the row over (our lease expired): stop the
        // body and drop our view without writing; the version would fence
        // a late write anyway. (With its last write in flight, the row
        // just finished: nothing was lost.)
        if (!ending_)
          report_lease_lost("was taken over by another node after this "
                            "node's lease ran out; its body is stopped");
        cancel_.request_stop();
        stop();
      },
      [this](reclaimed_atom) {
        // This node took the row over again (its own lease had run out):
        // nothing this actor writes can apply. It ends now, or when its
        // body returns, so that the dispatcher starts the row again only
        // then (never two bodies of one execution at once).
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

private:
  /// `finalizing` runs an inline finalize function; `finalize_here` runs a
  /// finalize task before its row is stored (take_finalize()).
  enum class phase : std::uint8_t {
    starting,
    running_body,
    finalizing,
    finalize_here,
    writing,
    supervising,
    done
  };

  // -- start ----------------------------------------------------------------

  void start() {
    if (!def_) {
      // Claims filter by registered task, so this only happens if a row's
      // task vanished between claim and spawn: fail it clearly.
      end_with(transitions::finish(
        row_, execution_status::failed, std::nullopt,
        execution_error{error_kind::not_found,
                        fmt::format("Task not found [taskId={}]",
                                    row_.task_id)},
        now()));
      return;
    }
    // Taken over from dead nodes too often (a running body or a waiting
    // parent: store_rules::claim counts both).
    if (row_.recoveries > rt_->options.max_recoveries) {
      end_with(transitions::finish(
        row_, execution_status::failed, std::nullopt,
        execution_error{error_kind::generic,
                        fmt::format("Task execution recovered too many times "
                                    "[recoveries={}] [maxRecoveries={}]",
                                    row_.recoveries,
                                    rt_->options.max_recoveries),
                        false, true},
        now()));
      return;
    }
    switch (row_.status) {
      case execution_status::running:
        if (row_.kind == task_kind::sequence || row_.kind == task_kind::loop)
          start_steps();
        else
          start_body();
        return;
      case execution_status::waiting_for_children:
      case execution_status::waiting_for_finalize:
        adopted_ = true;
        supervise();
        return;
      default:
        end();
    }
  }

  void start_body() {
    phase_ = phase::running_body;
    launch_body(def_, row_);
  }

  /// Runs the body of `row` (this actor's row, or a finalize task run here)
  /// and reports its outcome to on_body_done().
  void launch_body(const task_definition_ptr& def,
                   const execution_record& row) {
    if (!def->options.may_block) {
      on_body_done(run_inline(*rt_, *def, row, *lease_));
      return;
    }
    // Only a body on another thread can be asked to stop while it runs.
    cancel_ = std::stop_source{};
    timeout_token_ = rt_->new_timer_token();
    submit_body(
      rt_,
      body_job{def,
               task_context{row.task_id, row.id, row.attempt, row.error,
                            row.parent, row.root, cancel_.get_token(),
                            rt_->shutdown.get_token()},
               row.input, row.timeout, timeout_token_, lease_,
               caf::actor_cast<caf::actor>(this), slot_.share(dispatcher_)});
  }

  void start_steps() {
    auto child = make_child(step_child(*def_, 0, row_.input));
    if (!child)
      return;
    write(transitions::next_step(take_row(), std::move(*child), now()),
          [this] { await_children(); });
  }

  // -- body outcomes --------------------------------------------------------

  void on_timeout() {
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

  void on_body_done(body_outcome out) {
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
    if (out.error) {
      fail(std::move(*out.error));
      return;
    }
    if (out.parent) {
      on_parent_run(std::move(*out.parent));
      return;
    }
    auto output = std::move(out.output).value_or("null");
    if (!check_output(output))
      return;
    end_with(transitions::complete(take_row(), std::move(output), now()));
  }

  /// Whether a body (or a finalize run here or inline) of this actor is
  /// running or queued on the worker pool: its body_done is still to come.
  bool body_running() const {
    return phase_ == phase::running_body || phase_ == phase::finalizing
           || (phase_ == phase::finalize_here && fin_ && fin_->row);
  }

  /// The worker did not start the body (start_refused()).
  void on_not_started(body_outcome::skip why) {
    if (phase_ == phase::done)
      return;
    if (why == body_outcome::skip::lease && body_running()) {
      report_lease_lost("did not start: its lease may have passed (the "
                        "node was frozen or too busy); it is handed back");
      // Maybe still ours: give it back, guarded by its version, so that
      // it runs again at once rather than after an orphan sweep. If
      // another node took it, the write conflicts and the actor ends. A
      // parent whose finalize did not start is given back as it waits:
      // its next owner reads its children and finalizes.
      fin_.reset();
      phase_ = phase::writing;
      hand_back(take_row());
      return;
    }
    // Stopped, or draining: the node hands its leases back. A finalize
    // run here that did not start: the parent's adopter stores and runs it.
    end();
  }

  void fail(execution_error e) {
    auto delay = retry_delay(row_.retry, row_.attempt, rt_->random);
    end_with(transitions::fail_run(take_row(), std::move(e), now(), delay));
  }

  /// The error of an output over `max_output_bytes` or not storable text
  /// (utf8.hpp), if it is: never retried, the same output would fail again.
  std::optional<execution_error> unstorable(const std::string& output) const {
    auto cap = rt_->options.max_output_bytes;
    if (output.size() > cap)
      return non_retryable(fmt::format("Serialized data size exceeds maximum "
                                       "allowed size [size={}] [maxSize={}]",
                                       output.size(), cap));
    if (auto why = utf8::problem("Output", output))
      return non_retryable(std::move(*why));
    return std::nullopt;
  }

  bool check_output(const std::string& output) {
    auto e = unstorable(output);
    if (!e)
      return true;
    end_with(transitions::finish(row_, execution_status::failed, std::nullopt,
                                 std::move(e), now()));
    return false;
  }

  void on_parent_run(parent_run pr) {
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
            [this] { await_children(); });
      return;
    }
    auto outcome = transitions::children_outcome(pr.output, {});
    act(next_step::parent_done(*def_, std::move(outcome)),
        std::move(pr.output));
  }

  /// Does what next_step decided. `run_output` is the output of a parent
  /// body that spawned no children, not stored yet (for `finalize`).
  void act(next_step::move m,
           std::optional<std::string> run_output = std::nullopt) {
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
            [this] { await_children(); });
    } else if (auto* fin = std::get_if<next_step::finalize>(&m)) {
      finalize(std::move(fin->input), std::move(run_output));
    } else if (auto* w = std::get_if<next_step::wait_for>(&m)) {
      // Children announced finished while the read was in flight are not
      // waited for again: if that leaves none, read once more.
      follow(children_.on_unfinished(w->unfinished));
    }
  }

  /// Runs the parent's finalize function here, or its finalize task: here
  /// before its row is stored when the node has a slot to spare, else
  /// stored for any node to claim.
  void finalize(std::string input, std::optional<std::string> run_output) {
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

  void store_finalize(execution_record fin,
                      std::optional<std::string> run_output) {
    write(transitions::wait_for_finalize(take_row(), std::move(run_output),
                                         std::move(fin), now()),
          [this] { await_children(); });
  }

  // -- a finalize task run here ---------------------------------------------
  //
  // A parent that stored its children itself runs its finalize task on
  // this actor before the finalize row exists, when the node has a slot to
  // spare (the dispatcher marks the row claimed by this node, as for any
  // new row it takes locally). Its outcome and the parent's end are then
  // one commit (transitions::finalize_ran) instead of three: the finalize's
  // insert, its completion and the parent's. If the node dies meanwhile,
  // nothing was stored: the parent's adopter (adopted_) stores the
  // finalize row and runs it the ordinary way, so a finalize that crashes
  // its node still counts recoveries and fails past max_recoveries.

  /// Not while this actor still holds its own body's slot (a parent body
  /// that spawned no children): the finalize would need a second one.
  bool may_finalize_here(const execution_record& fin) const {
    return !adopted_ && !slot_.held() && rt_->options.claim_on_insert
           && fin.kind == task_kind::task
           && rt_->local_claims.load(std::memory_order_relaxed);
  }

  void take_finalize(execution_record fin,
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

  /// The finalize task run here returned (or timed out): store its row as
  /// it ended, with the parent's end, or back to ready for a retry.
  void on_finalize_here_done(body_outcome out) {
    cancel_timeout();
    auto run = std::move(fin_);
    auto fin = std::move(*run->row);
    transition ran;
    if (out.error) {
      auto delay = retry_delay(fin.retry, fin.attempt, rt_->random);
      ran = transitions::fail_run(std::move(fin), std::move(*out.error), now(),
                                  delay);
    } else {
      auto output = std::move(out.output).value_or("null");
      if (auto e = unstorable(output))
        ran = transitions::finish(std::move(fin), execution_status::failed,
                                  std::nullopt, std::move(e), now());
      else
        ran = transitions::complete(std::move(fin), std::move(output), now());
    }
    // Inserted as the transition would have left it.
    ran.next.version = ran.expected_version + 1;
    auto t = transitions::finalize_ran(take_row(), std::move(run->run_output),
                                       std::move(ran.next), now());
    if (t.next.is_finished())
      end_with(std::move(t));
    else
      write(std::move(t), [this] { await_children(); });
  }

  void run_inline_finalize(std::string input) {
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

  void on_finalize_done(body_outcome out) {
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

  // -- children -------------------------------------------------------------

  /// Builds a child row, or fails this execution and returns nullopt.
  std::optional<execution_record> make_child(child_spec spec) {
    auto def = rt_->tasks->find(spec.task_id);
    auto made = make_child_row(row_, def.get(), std::move(spec),
                               rt_->options.max_input_bytes, now());
    if (auto* e = std::get_if<execution_error>(&made)) {
      fail(std::move(*e));
      return std::nullopt;
    }
    return std::move(std::get<execution_record>(made));
  }

  /// Recovered in a waiting state, or told announcements may be lost:
  /// what the children did is unknown, so read them.
  void supervise() {
    phase_ = phase::supervising;
    check_children();
  }

  /// The write that stored the children this row now waits for has
  /// applied: none of them can have finished except those announced
  /// meanwhile, so count on announcements instead of reading them back.
  void await_children() {
    phase_ = phase::supervising;
    // The children it waits for now: its finalize task, its current
    // step, or all of them.
    auto one = single_awaited();
    follow(one ? children_.on_write_applied(*one)
               : children_.on_write_applied(row_.children));
  }

  /// Checks the children now, or waits for their announcements with the
  /// recheck timer as the safety net.
  void follow(verdict v) {
    if (v == verdict::check)
      check_children();
    else
      arm_recheck();
  }

  child_tracker::activity activity() const {
    switch (phase_) {
      case phase::writing:
        return child_tracker::activity::writing;
      case phase::supervising:
        return child_tracker::activity::waiting;
      default:
        return child_tracker::activity::busy;
    }
  }

  bool is_stepwise() const {
    return row_.kind == task_kind::sequence || row_.kind == task_kind::loop;
  }

  /// Reads what the awaited children did: one row for a finalize task or
  /// a step (only its outcome matters), all children otherwise or if
  /// `all`.
  void check_children(bool all = false) {
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
          on_children(std::move(*kids));
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
            on_children(std::move(kids));
          children_.read_handled();
        },
        failed);
  }

  /// The one child whose outcome this row waits for, if it waits for one.
  std::optional<std::string> single_awaited() const {
    if (row_.status == execution_status::waiting_for_finalize && row_.finalize)
      return row_.finalize->execution_id;
    if (is_stepwise() && !row_.children.empty())
      return row_.children.back().execution_id;
    return std::nullopt;
  }

  void on_awaited_row(std::optional<execution_record> child) {
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

  void arm_recheck() {
    if (recheck_token_ == 0)
      recheck_token_ = rt_->set_timer(
        caf::actor_cast<caf::actor>(this),
        to_timespan(rt_->options.supervisor_recheck_interval),
        caf::make_message(recheck_atom::value));
  }

  void on_children(std::vector<execution_record> kids) {
    act(next_step::after_children(row_, *def_, std::move(kids)));
  }

  // -- persistence and the end ----------------------------------------------

  template <class Then>
  void write(transition t, Then then) {
    auto prev = phase_;
    phase_ = phase::writing;
    // New ready children go through the dispatcher while it may store
    // some of them already claimed by this node (runtime::local_claims);
    // it answers as the storage actor does.
    const bool may_take = std::any_of(
      t.children.begin(), t.children.end(), [](const execution_record& c) {
        return c.status == execution_status::ready;
      });
    const auto& target = may_take
                             && rt_->local_claims.load(
                               std::memory_order_relaxed)
                           ? dispatcher_
                           : storage_;
    const auto mark = write_mark::of(t);
    request(target, caf::infinite, apply_atom::value, std::move(t))
      .then(
        [this, prev, then, mark](write_outcome& out) mutable {
          if (out.status == write_status::rejected && out.current) {
            // A child's sleeping id (or key) is taken: a permanent error.
            row_ = std::move(*out.current);
            end_with(transitions::finish(
              row_, execution_status::failed, std::nullopt,
              non_retryable("Cannot create children: a child's sleeping "
                            "task unique id or idempotency key exists "
                            "already"),
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
          on_written(std::move(*out.current), prev, then);
        },
        [this, prev, then, mark](caf::error&) mutable {
          // Nothing says whether the commit happened: read the row back.
          recover_write(mark, [this, prev, then](execution_record r) mutable {
            on_written(std::move(r), prev, then);
          });
        });
  }

  /// The write that moved the row to `stored` committed.
  template <class Then>
  void on_written(execution_record stored, phase prev, Then& then) {
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
    then();
  }

  // -- writes that failed (write_recovery.hpp) -------------------------------

  /// Reads the row back after a failed write marked `mark`; `applied`
  /// continues if the row carries it.
  void recover_write(write_mark mark,
                     std::function<void(execution_record)> applied) {
    recovery().mark = mark;
    recovery_->applied = std::move(applied);
    reread();
  }

  void reread() {
    request(storage_, caf::infinite, fetch_atom::value, row_.id)
      .then(
        [this](maybe_record& r) {
          if (phase_ != phase::done)
            settle(std::move(r.record));
        },
        [this](caf::error&) {
          // The store does not answer yet: read again after a backoff
          // (50 ms doubling to 2 s), while the lease keeper holds the row.
          rt_->set_timer(caf::actor_cast<caf::actor>(this),
                         to_timespan(reread_delay(recovery_->rereads++)),
                         caf::make_message(reread_atom::value));
        });
  }

  void settle(std::optional<execution_record> stored) {
    const auto mark = recovery_->mark;
    auto applied = std::move(recovery_->applied);
    recovery_->applied = nullptr;
    recovery_->rereads = 0;
    switch (settle_write(mark, stored, rt_->incarnation)) {
      case read_back::applied:
        applied(std::move(*stored));
        return;
      case read_back::hand_back:
        hand_back(std::move(*stored));
        return;
      case read_back::moved_on:
        end();
        return;
    }
  }

  /// Gives the row back to the cluster (transitions::hand_back) and ends.
  void hand_back(execution_record stored) {
    recovery().handing_back = true;
    end_with(transitions::hand_back(std::move(stored), now()));
  }

  /// The store refused the write alone (its data): record that as the
  /// execution's failure, non-retryable, unless that write was refused
  /// too or the row is not as this actor left it.
  void on_refused(write_mark mark, write_outcome out) {
    auto& rec = recovery();
    switch (on_refusal(mark, out, rec.refusal_stored, rec.handing_back)) {
      case after_refusal::read_back:
        recover_write(mark, [this](execution_record) { end(); });
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

  void end_with(transition t) {
    ending_ = true; // end() gives the slot back with its last message
    write(std::move(t), [this] { end(); });
  }

  /// The row, moved into a transition that replaces it: the write's reply
  /// brings the row as stored back, and until then (or if the write fails
  /// and the actor ends) only its id is read.
  execution_record take_row() {
    auto r = std::move(row_);
    row_.id = r.id;
    return r;
  }

  void cancel_timeout() {
    if (timeout_token_ != 0) {
      rt_->cancel_timer(timeout_token_);
      timeout_token_ = 0;
    }
  }

  void free_slot() {
    if (slot_.release())
      send(dispatcher_, slot_free_atom::value, row_.id);
  }

  void on_exit() override {
    // Killed at shutdown, or ended: a body still running must stop too.
    cancel_.request_stop();
  }

  /// Ends now, or once the dispatcher answered a take (its reply may hold a
  /// slot that must be given back).
  void stop() {
    if (taking_)
      stop_after_take_ = true;
    else
      end();
  }

  void end() {
    if (phase_ == phase::done)
      return;
    phase_ = phase::done;
    // The row moved on without us (cancelled, taken over after a lost
    // lease, or finished): a body still running should stop.
    cancel_.request_stop();
    cancel_timeout();
    if (recheck_token_ != 0)
      rt_->cancel_timer(recheck_token_);
    // One message both drops this actor from the dispatcher and, if it
    // still held one, frees its slot.
    send(dispatcher_, gone_atom::value, std::move(row_.id), address(),
         slot_.release());
    quit();
  }

  timestamp now() const {
    return rt_->now();
  }

  /// Tells the observer that this node no longer runs the row, and why.
  void report_lease_lost(std::string_view why) const {
    engine_event ev;
    ev.kind = engine_event::type::lease_lost;
    ev.level = engine_event::severity::warning;
    ev.execution_id = row_.id;
    ev.message = fmt::format("execution {} {}", row_.id, why);
    rt_->report(ev);
  }

  runtime_ptr rt_;
  // Copies, so that shutdown may drop the runtime's handles while this
  // actor is still being torn down.
  caf::actor storage_;
  caf::actor dispatcher_;
  execution_record row_;
  /// What this node knows of row_'s lease (the dispatcher renews it).
  row_lease_ptr lease_;
  task_definition_ptr def_;
  body_slot slot_;
  // The flags sit together in one word (see the size check below).
  phase phase_ = phase::starting;
  /// The write in flight is the last one (end_with).
  bool ending_ = false;
  /// Recovered in a waiting state: its children were stored by an actor
  /// that is gone, maybe with a finalize task run here (take_finalize()).
  bool adopted_ = false;
  /// A take of the finalize task is in flight; stop() waits for it.
  bool taking_ = false;
  bool stop_after_take_ = false;
  /// Set when a body runs on the worker pool; stopping it is a no-op
  /// otherwise (an inline body cannot be interrupted).
  std::stop_source cancel_{std::nostopstate};
  std::uint64_t timeout_token_ = 0;
  std::uint64_t recheck_token_ = 0;
  child_tracker children_;
  /// A finalize task run here (take_finalize()): the parent's run output
  /// that waits with it, and its row once the dispatcher took it (claimed
  /// by this node, not yet stored). Allocated only while it runs, so that
  /// an actor per running execution stays small.
  struct finalize_run {
    std::optional<std::string> run_output;
    std::optional<execution_record> row;
  };
  std::unique_ptr<finalize_run> fin_;
  /// What is known of writes that failed (see recover_write()); allocated
  /// by the first such write only, so that an actor per running execution
  /// stays small.
  struct write_recovery {
    /// The failed write whose row is being read back, and what follows if
    /// it committed (null while no read-back is due).
    write_mark mark;
    std::function<void(execution_record)> applied;
    int rereads = 0;
    /// The write in flight hands the row back (hand_back()).
    bool handing_back = false;
    /// The write in flight records that the store refused the outcome.
    bool refusal_stored = false;
    /// This node claimed the row again: end when the body returns.
    bool discard = false;
  };
  std::unique_ptr<write_recovery> recovery_;

  write_recovery& recovery() {
    if (!recovery_)
      recovery_ = std::make_unique<write_recovery>();
    return *recovery_;
  }
};

// Every running execution holds one of these. jemalloc (docs/allocator.md)
// serves it from the size class at or above its size: 2,048 bytes is one,
// the next is 2,560. Growing past it costs each running execution 512
// bytes of memory that nothing uses.
static_assert(sizeof(caf::actor_storage<execution_actor>) <= 2048,
              "an execution actor no longer fits jemalloc's 2 KiB class");

} // namespace

bool takes_slot(const execution_record& r) noexcept {
  return r.status == execution_status::running
         && (r.kind == task_kind::task || r.kind == task_kind::parent);
}

caf::actor spawn_execution(caf::event_based_actor* spawner, runtime_ptr rt,
                           execution_record row, row_lease_ptr lease) {
  return spawner->spawn<execution_actor>(std::move(rt), std::move(row),
                                         std::move(lease));
}

} // namespace durable::actors
