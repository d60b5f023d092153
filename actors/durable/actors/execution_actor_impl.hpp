#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <caf/event_based_actor.hpp>

#include "durable/actors/body_run.hpp"
#include "durable/actors/child_tracker.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/row_lease.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/actors/write_recovery.hpp"
#include "durable/child_rows.hpp"
#include "durable/execution_record.hpp"
#include "durable/next_step.hpp"

/// The class of the execution actor (execution_actor.hpp says what it does
/// for the rest of the engine). Internal to the actors module: nothing
/// outside `execution_*.cpp` includes this header.
///
/// Its decisions live in tested pieces; the actor wires them to messages:
///
/// | Concern | Members defined in | Decided by |
/// |---|---|---|
/// | messages, start, end | execution_actor.cpp | next_step::at_start |
/// | a body's run and outcome, an inline finalize function | execution_body.cpp
/// | body_run.hpp, transitions::run_returned | | children: storing, waiting,
/// reading, what follows | execution_children.cpp | child_tracker.hpp,
/// next_step.hpp, child_rows.hpp | | a finalize task run beside its parent |
/// execution_finalize_here.cpp | transitions::finalize_ran | | writes, and
/// writes whose outcome is unknown | execution_writes.cpp | write_recovery.hpp
/// |
///
/// Threading: an actor, so every member runs on one CAF worker at a time;
/// a blocking body runs on the worker pool and reports back by message.
namespace durable::actors::detail {

class execution_actor : public caf::event_based_actor {
public:
  execution_actor(caf::actor_config& cfg, runtime_ptr rt, execution_record row,
                  row_lease_ptr lease);

  caf::behavior make_behavior() override;

  void on_exit() override;

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

  /// What follows a write once it applied.
  enum class then : std::uint8_t {
    await_children, ///< wait for the children the write stored
    end,            ///< the write was the last one (end_with())
  };

  // -- execution_actor.cpp: start and end -------------------------------------

  void start();
  void start_body();
  /// Ends now, or once the dispatcher answered a take (its reply may hold a
  /// slot that must be given back).
  void stop();
  void end();
  /// The row, moved into a transition that replaces it: the write's reply
  /// brings the row as stored back, and until then (or if the write fails
  /// and the actor ends) only its id is read.
  execution_record take_row();
  void cancel_timeout();
  void free_slot();
  timestamp now() const;
  /// Tells the observer that this node no longer runs the row, and why.
  void report_lease_lost(std::string_view why) const;

  // -- execution_body.cpp: a body's run and its outcome ----------------------

  /// Runs the body of `row` (this actor's row, or a finalize task run here)
  /// and reports its outcome to on_body_done().
  void launch_body(const task_definition_ptr& def, const execution_record& row);
  void on_timeout();
  void on_body_done(body_outcome out);
  /// Whether a body (or a finalize run here or inline) of this actor is
  /// running or queued on the worker pool: its body_done is still to come.
  bool body_running() const;
  /// The worker did not start the body (start_refused()).
  void on_not_started(body_outcome::skip why);
  void fail(execution_error e);
  /// Fails the execution, never retried, if `output` may not be stored
  /// (payload_problem()); says whether it may.
  bool check_output(const std::string& output);
  void on_parent_run(parent_run pr);
  void run_inline_finalize(std::string input);
  void on_finalize_done(body_outcome out);

  // -- execution_children.cpp: children and what follows them ---------------

  /// Does what next_step decided. `run_output` is the output of a parent
  /// body that spawned no children, not stored yet (for `finalize`).
  void act(next_step::move m,
           std::optional<std::string> run_output = std::nullopt);
  /// Builds a child row, or fails this execution and returns nullopt.
  std::optional<execution_record> make_child(child_spec spec);
  /// Runs the parent's finalize function here, or its finalize task: here
  /// before its row is stored when the node has a slot to spare, else
  /// stored for any node to claim.
  void finalize(std::string input, std::optional<std::string> run_output);
  void store_finalize(execution_record fin,
                      std::optional<std::string> run_output);
  /// Recovered in a waiting state, or told announcements may be lost:
  /// what the children did is unknown, so read them.
  void supervise();
  /// The write that stored the children this row now waits for has
  /// applied: none of them can have finished except those announced
  /// meanwhile, so count on announcements instead of reading them back.
  void await_children();
  /// Checks the children now, or waits for their announcements with the
  /// recheck timer as the safety net.
  void follow(child_tracker::verdict v);
  /// Checks the children if the tracker says so (`v`).
  void check_children_if(child_tracker::verdict v);
  child_tracker::activity activity() const;
  /// Reads what the awaited children did: one row for a finalize task or
  /// a step (only its outcome matters), all children otherwise or if
  /// `all`.
  void check_children(bool all = false);
  /// The one child whose outcome this row waits for, if it waits for one.
  std::optional<std::string> single_awaited() const;
  void on_awaited_row(std::optional<execution_record> child);
  void arm_recheck();

  // -- execution_finalize_here.cpp: a finalize task run beside its parent ---

  bool may_finalize_here(const execution_record& fin) const;
  void take_finalize(execution_record fin,
                     std::optional<std::string> run_output);
  /// The finalize task run here returned (or timed out): store its row as
  /// it ended, with the parent's end, or back to ready for a retry.
  void on_finalize_here_done(body_outcome out);

  // -- execution_writes.cpp: writes -------------------------------------------

  /// Applies `t`; once it applied, does `next`.
  void write(transition t, then next);
  /// The last write: the actor ends once it applied (or failed).
  void end_with(transition t);
  /// The write that moved the row to `stored` applied.
  void on_written(execution_record stored, phase prev, then next);
  /// Reads the row back after a failed write marked `mark`; if the row
  /// carries that write, continues as on_written() with `prev` and `next`,
  /// or ends when `next` is empty.
  void recover_write(write_mark mark, phase prev, std::optional<then> next);
  void reread();
  void settle(std::optional<execution_record> stored);
  /// Gives the row back to the cluster (transitions::hand_back) and ends.
  void hand_back(execution_record stored);
  /// The store refused the write alone (its data): record that as the
  /// execution's failure, non-retryable, unless that write was refused
  /// too or the row is not as this actor left it.
  void on_refused(write_mark mark, write_outcome out);

  // -- state ------------------------------------------------------------------

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
  // The flags sit together in one word (see the size check in
  // execution_actor.cpp).
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
    /// The failed write whose row is being read back (while `due`), and
    /// how to continue if it committed (on_written()'s `prev` and `next`;
    /// none: end).
    write_mark mark;
    bool due = false;
    phase prev = phase::starting;
    std::optional<then> next;
    int rereads = 0;
    /// The write in flight hands the row back (hand_back()).
    bool handing_back = false;
    /// The write in flight records that the store refused the outcome.
    bool refusal_stored = false;
    /// This node claimed the row again: end when the body returns.
    bool discard = false;
  };
  std::unique_ptr<write_recovery> recovery_;

  write_recovery& recovery();
};

} // namespace durable::actors::detail
