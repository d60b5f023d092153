#include "durable/actors/storage_actor.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/commit_policy.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/requests.hpp"
#include "durable/actors/wire_errors.hpp"
#include "durable/assert.hpp"
#include "durable/ids.hpp"
#include "durable/transitions.hpp"

namespace durable::actors {

namespace {

/// Conditional writes that lose a race are re-read and retried this often
/// by the compound operations (cancel, wake, expire) before giving up.
constexpr int max_compound_attempts = 16;
constexpr std::size_t sleeper_batch = 100;

struct pending_insert {
  std::vector<execution_record> rows;
  caf::response_promise rp;
  insert_callback cb;
};

struct storage_state {
  runtime_ptr rt;
  std::vector<pending_insert> inserts;
  /// The transitions of the open batch and, at the same index, who waits
  /// for each outcome. Kept apart so that a transition is moved once on
  /// its way to the store, not twice.
  std::vector<transition> applies;
  std::vector<caf::response_promise> apply_promises;
  bool flush_scheduled = false;
  /// Whether the open batch waits a little longer (commit_policy.hpp).
  std::unique_ptr<commit_policy> policy;
  /// Steady nanoseconds the open batch has been held so far, and the
  /// duration of the last store apply.
  std::int64_t held_ns = 0;
  std::int64_t last_apply_ns = 0;

  explicit storage_state(runtime_ptr r)
    : rt(std::move(r)),
      // Only a storage actor on a thread of its own may nap.
      policy(rt->detached_io ? hold_for_siblings(rt->incarnation)
                             : commit_at_once()) {}
};

/// Names `row` in `ev`: its id, task and trace context.
void name_row(engine_event& ev, const execution_record& row) {
  ev.execution_id = row.id;
  ev.task_id = row.task_id;
  ev.traceparent = std::string{row.traceparent.value_or("")};
}

/// The observer's event for store call `op` failing with `e`; for one
/// execution's write that the store refused alone, `row` names it.
engine_event store_failed(const char* op, std::string_view what,
                          std::optional<store_failure> failure,
                          const execution_record* row = nullptr) {
  engine_event ev;
  ev.kind = engine_event::type::store_failure;
  ev.operation = op;
  ev.failure = failure;
  if (row)
    name_row(ev, *row);
  const bool transient = failure == store_failure::unavailable
                         || failure == store_failure::conflict;
  ev.level = transient ? engine_event::severity::warning
                       : engine_event::severity::error;
  ev.message = ev.execution_id.empty()
                 ? fmt::format("store call {} failed: {}", op, what)
                 : fmt::format("store refused the write of execution {}: {}",
                               ev.execution_id, what);
  return ev;
}

/// Tells the observer that store call `op` failed with `e` and returns the
/// error for whoever waits for the call.
caf::error failed(const runtime& rt, const char* op, const std::exception& e) {
  rt.report(store_failed(op, e.what(), failure_of(e)));
  return caf::make_error(caf::sec::runtime_error, e.what());
}

/// Runs store call `op` as `fn`: its value, or (an exception) the error
/// for the requester, told to the observer as well.
template <class T, class F>
caf::result<T> guarded(const runtime& rt, const char* op, F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return failed(rt, op, e);
  }
}

/// Tells the observer about each conflict and refusal among `outcomes` of
/// the engine's own writes.
void report_outcomes(const runtime& rt,
                     const std::vector<write_outcome>& outcomes) {
  for (const auto& out : outcomes) {
    if (out.status == write_status::refused && out.current) {
      rt.report(
        store_failed("apply", out.reason, store_failure::fatal, &*out.current));
    } else if (out.status == write_status::conflict && out.current) {
      engine_event ev;
      ev.kind = engine_event::type::conflict;
      ev.level = engine_event::severity::info;
      ev.operation = "apply";
      name_row(ev, *out.current);
      ev.message = fmt::format(
        "a write of execution {} lost to another writer (now {}, version "
        "{}); re-read",
        out.current->id, to_string(out.current->status), out.current->version);
      rt.report(ev);
    }
  }
}

void schedule_flush(caf::event_based_actor* self, storage_state& st) {
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, caf::flush_atom::value);
  }
}

void flush_inserts(storage_state& st) {
  if (st.inserts.empty())
    return;
  auto batch = std::move(st.inserts);
  st.inserts.clear();
  // Offsets below use each caller's row count, which moving the rows out
  // must not lose.
  std::vector<std::size_t> sizes;
  sizes.reserve(batch.size());
  std::size_t total = 0;
  for (auto& p : batch) {
    sizes.push_back(p.rows.size());
    total += p.rows.size();
  }
  std::vector<execution_record> rows;
  if (batch.size() == 1) {
    rows = std::move(batch.front().rows); // the usual case: no copy at all
  } else {
    rows.reserve(total);
    for (auto& p : batch)
      std::move(p.rows.begin(), p.rows.end(), std::back_inserter(rows));
  }
  insert_reply all;
  try {
    all.outcomes = st.rt->db->insert(std::move(rows));
  } catch (const std::exception& e) {
    const auto failure = failure_of(e);
    st.rt->report(store_failed("insert", e.what(), failure));
    all.error = e.what();
    all.in_doubt = failure == store_failure::in_doubt;
  }
  std::size_t offset = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto& p = batch[i];
    insert_reply mine;
    mine.error = all.error;
    mine.in_doubt = all.in_doubt;
    if (all.error.empty()) {
      auto first = all.outcomes.begin() + static_cast<std::ptrdiff_t>(offset);
      mine.outcomes.assign(
        std::make_move_iterator(first),
        std::make_move_iterator(first + static_cast<std::ptrdiff_t>(sizes[i])));
    }
    offset += sizes[i];
    if (p.cb)
      p.cb(std::move(mine));
    else
      p.rp.deliver(std::move(mine));
  }
}

void flush_applies(storage_state& st) {
  st.held_ns = 0;
  if (st.applies.empty())
    return;
  DURABLE_ASSERT(st.applies.size() == st.apply_promises.size(),
                 "a transition of the batch without its writer, or a writer "
                 "without its transition");
  auto ts = std::move(st.applies);
  // The next batch is likely as large: one allocation instead of a
  // vector growing (and moving its transitions) step by step.
  st.applies = {};
  st.applies.reserve(ts.size());
  st.policy->committing(ts);
  try {
    const auto started = steady_nanos();
    auto outcomes = st.rt->db->apply(std::move(ts));
    const auto ended = steady_nanos();
    st.last_apply_ns = ended - started;
    st.policy->committed(outcomes, ended);
    report_outcomes(*st.rt, outcomes);
    for (std::size_t i = 0; i < st.apply_promises.size(); ++i)
      if (i < outcomes.size())
        st.apply_promises[i].deliver(std::move(outcomes[i]));
      else // a store breaking its contract must not leave a writer waiting
        st.apply_promises[i].deliver(caf::make_error(
          caf::sec::runtime_error, "the store returned no outcome"));
  } catch (const std::exception& e) {
    auto err = failed(*st.rt, "apply", e);
    for (auto& rp : st.apply_promises)
      rp.deliver(err);
  }
  st.apply_promises.clear();
}

/// What apply_until_settled() ended with: the row as stored last, and
/// whether the step is done with it (applied, declined or row gone) rather
/// than outrun by other writers max_compound_attempts times.
struct settled_row {
  std::optional<execution_record> row;
  bool settled = true;
};

/// Re-reads and re-applies `step` until it applies, the row is gone, or the
/// step declines (returns nullopt: nothing to do for that row). A write
/// the store refuses (write_status::refused) is not retried: it would be
/// refused again.
template <class Step>
settled_row apply_until_settled(const runtime& rt,
                                std::optional<execution_record> row,
                                Step step) {
  for (int i = 0; i < max_compound_attempts && row; ++i) {
    auto t = step(*row);
    if (!t)
      return {std::move(row)};
    auto out = rt.db->apply({std::move(*t)});
    report_outcomes(rt, out);
    if (out[0].status == write_status::applied)
      return {std::move(out[0].current)};
    if (out[0].status == write_status::refused)
      return {std::move(out[0].current), false};
    row = std::move(out[0].current);
  }
  return {std::move(row), !row};
}

/// The retryable error of a compound operation (`what`: "cancelled",
/// "woken") that other writers outran on every attempt: the caller may
/// try again, nothing was written.
error not_settled(const char* what, const std::string& execution_id) {
  return error::retryable(fmt::format(
    "Task execution could not be {} [executionId={}]: it changed {} times "
    "while this call tried; nothing was written",
    what, execution_id, max_compound_attempts));
}

wake_reply wake(const runtime& rt, const wake_request& req) {
  auto& db = *rt.db;
  wake_reply reply;
  auto row = db.get_by_sleeping_id(req.sleeping_id);
  if (!row || row->task_id != req.task_id) {
    reply.error = execution_error{
      error_kind::not_found, fmt::format("Task execution not found [taskId={}] "
                                         "[sleepingTaskUniqueId={}]",
                                         req.task_id, req.sleeping_id)};
    return reply;
  }
  const auto id = row->id;
  auto settled = apply_until_settled(
    rt, std::move(row),
    [&](const execution_record& r) -> std::optional<transition> {
      if (r.is_finished())
        return std::nullopt;
      auto now = db.now();
      if (req.output)
        return transitions::complete(r, *req.output, now);
      return transitions::finish(
        r, execution_status::failed, std::nullopt,
        execution_error{error_kind::generic, req.error_message, false, false},
        now);
    });
  if (!settled.settled)
    reply.error = not_settled("woken", id).info();
  else
    reply.record = std::move(settled.row);
  return reply;
}

std::optional<timestamp> expire_sleepers(const runtime& rt) {
  auto& db = *rt.db;
  for (;;) {
    auto scan = db.scan_sleepers(sleeper_batch);
    for (auto& r : scan.expired)
      apply_until_settled(
        rt, std::optional<execution_record>{std::move(r)},
        [&](const execution_record& row) -> std::optional<transition> {
          if (row.is_finished())
            return std::nullopt;
          return transitions::expire_sleeper(row, db.now());
        });
    if (scan.expired.size() < sleeper_batch)
      return scan.next_deadline;
  }
}

/// Hands back each of `ids` that `owner` still owns and has not finished
/// (transitions::hand_back); returns how many it handed back.
std::size_t hand_back(const runtime& rt, const std::vector<std::string>& ids) {
  auto& db = *rt.db;
  const auto& owner = rt.incarnation;
  std::size_t handed_back = 0;
  for (const auto& id : ids) {
    auto row = db.get(id);
    if (!row || row->is_finished() || row->owner != owner)
      continue;
    auto out = db.apply({transitions::hand_back(std::move(*row), db.now())});
    if (out[0].status == write_status::applied)
      ++handed_back;
  }
  return handed_back;
}

} // namespace

caf::behavior storage_actor(caf::event_based_actor* self, runtime_ptr rt_ptr) {
  auto st = std::make_shared<storage_state>(std::move(rt_ptr));
  // Both live as long as `st`, which every handler holds.
  const auto& rt = *st->rt;
  auto& db = *rt.db;
  return {
    [=](insert_atom, std::vector<execution_record>& rows) {
      st->inserts.push_back(
        {std::move(rows), self->make_response_promise(), nullptr});
      schedule_flush(self, *st);
    },
    [=](insert_atom, std::vector<execution_record>& rows, insert_callback& cb) {
      st->inserts.push_back({std::move(rows), {}, std::move(cb)});
      schedule_flush(self, *st);
    },
    [=](apply_atom, transition& t) {
      st->applies.push_back(std::move(t));
      st->apply_promises.push_back(self->make_response_promise());
      schedule_flush(self, *st);
    },
    [=](caf::flush_atom) {
      st->flush_scheduled = false;
      flush_inserts(*st);
      if (st->policy->hold(st->applies, st->held_ns, st->last_apply_ns,
                           steady_nanos())) {
        // This actor has a thread of its own (detached_io): napping on it
        // blocks no other actor. The flush sent now comes after whatever
        // arrived during the nap, which joins the batch first.
        const auto from = steady_nanos();
        std::this_thread::sleep_for(commit_policy::nap);
        st->held_ns += steady_nanos() - from;
        schedule_flush(self, *st);
        return;
      }
      flush_applies(*st);
    },
    [=, &db, &rt](claim_atom, const claim_request& req) {
      return guarded<claim_result>(rt, "claim", [&] { return db.claim(req); });
    },
    // An id that cannot name an execution (ids.hpp) is not found, on
    // every store, without asking it.
    [=, &db, &rt](fetch_atom, const std::string& id) {
      return guarded<maybe_record>(rt, "get", [&] {
        return maybe_record{read_execution(db, id)};
      });
    },
    [=, &db, &rt](fetch_atom, const std::vector<std::string>& ids) {
      return guarded<std::vector<maybe_record>>(rt, "get", [&] {
        std::vector<maybe_record> rows;
        rows.reserve(ids.size());
        for (const auto& id : ids)
          rows.push_back({read_execution(db, id)});
        return rows;
      });
    },
    [=, &db, &rt](watch_atom, const std::string& id) {
      return guarded<maybe_record>(rt, "watch", [&] {
        if (!may_name_execution(id))
          return maybe_record{};
        return maybe_record{db.watch(id)};
      });
    },
    [=, &db, &rt](children_atom, const std::string& parent_id) {
      return guarded<std::vector<execution_record>>(rt, "children_of", [&] {
        return db.children_of(parent_id);
      });
    },
    [=, &db, &rt](cancel_atom, const std::string& id) {
      return guarded<maybe_record>(
        rt, "cancel", [&]() -> caf::result<maybe_record> {
          auto settled = apply_until_settled(
            rt, read_execution(db, id),
            [&](const execution_record& r) -> std::optional<transition> {
              if (r.is_finished())
                return std::nullopt;
              return transitions::cancel(r, db.now());
            });
          if (!settled.settled)
            return to_caf_error(not_settled("cancelled", id));
          return maybe_record{std::move(settled.row)};
        });
    },
    [=, &rt](wake_atom, const wake_request& req) {
      return guarded<wake_reply>(rt, "wake", [&] { return wake(rt, req); });
    },
    [=, &rt](expire_atom) {
      return guarded<maybe_time>(rt, "expire", [&] {
        return maybe_time{expire_sleepers(rt)};
      });
    },
    [=, &db, &rt](release_atom) {
      // A drain also hands back the maintenance role (if this node held
      // it), so the next leader need not wait for the lease to run out;
      // if that fails, the role lapses with its lease, and the rows are
      // handed back all the same.
      guarded<bool>(rt, "try_lead", [&] {
        return db.try_lead(maintenance_role, rt.incarnation, millis{0});
      });
      return guarded<std::size_t>(rt, "release_leases", [&] {
        return db.release_leases(rt.incarnation);
      });
    },
    [=, &rt](handback_atom, const std::vector<std::string>& ids) {
      return guarded<std::size_t>(rt, "hand_back",
                                  [&] { return hand_back(rt, ids); });
    },
    [=, &db, &rt](erase_atom, const std::string& id) {
      return guarded<bool>(rt, "erase", [&] {
        return may_name_execution(id) && db.erase(id);
      });
    },
    [=, &db, &rt](prune_atom, const prune_request& req) {
      return guarded<prune_result>(rt, "prune", [&] { return db.prune(req); });
    },
  };
}

caf::behavior claim_actor(caf::event_based_actor*, runtime_ptr rt) {
  return {
    [rt](claim_atom, const claim_request& req) {
      return guarded<claim_result>(*rt, "claim",
                                   [&] { return rt->db->claim(req); });
    },
  };
}

caf::behavior prune_actor(caf::event_based_actor*, runtime_ptr rt) {
  return {
    [rt](prune_atom, const prune_request& req) {
      return guarded<prune_result>(*rt, "prune",
                                   [&] { return rt->db->prune(req); });
    },
  };
}

} // namespace durable::actors
