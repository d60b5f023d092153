#include "durable/actors/dispatcher.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <caf/all.hpp>

#include "durable/actors/blocking_capacity.hpp"
#include "durable/actors/execution_actor.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/requests.hpp"
#include "durable/actors/waiter_registry.hpp"
#include "durable/actors/wire_errors.hpp"
#include "durable/store_rules.hpp"

namespace durable::actors {

namespace {

/// An execution actor of this node and when its row was claimed.
struct live_execution {
  caf::actor actor;
  /// steady_nanos() when the claim's result arrived: the claim committed
  /// before then.
  std::int64_t claimed_at = 0;
  /// Shared with the actor: raised here by each renewal that finds the row.
  row_lease_ptr lease;
  /// The slot this actor holds, if any, counts in `blocking` (a body of a
  /// blocking task: its own, or a finalize task run here).
  bool blocking_slot = false;
};

struct dispatcher_state {
  explicit dispatcher_state(runtime_ptr r)
    : rt(std::move(r)),
      blocking(rt->options.worker_threads + rt->options.max_queued_blocking) {
  }

  runtime_ptr rt;
  std::unordered_map<std::string, live_execution> live;
  std::size_t running_bodies = 0;
  /// The slots of blocking tasks' executions, within running_bodies,
  /// reserved and claim_limit: no more than the worker threads can start.
  blocking_capacity blocking;
  /// A claim left blocking work out for want of blocking room: claim
  /// again when a blocking slot frees.
  bool blocking_waits = false;
  /// Rows taken locally (take_locally) whose insert has not answered yet:
  /// each holds a slot until it is adopted or known not stored.
  std::size_t reserved = 0;
  /// The limit of the claim in flight: the slots its rows may fill.
  std::size_t claim_limit = 0;
  bool claiming = false;
  /// Work may be left behind: claim again when a claim ends or a slot frees.
  /// True until the first claim shows otherwise, so that until then new
  /// rows leave a claim batch of slots to rows already in the store
  /// (local_room).
  bool backlog = true;
  /// Work may have come in while a claim was in flight: claim again when
  /// it ends. Unlike `backlog`, no reason to think older rows wait.
  bool rerun = false;
  /// The next claim also takes over expired leases (claim_request::
  /// take_over): set at start, by a poll at most once per lease renewal
  /// interval (take_over_due), by a resync and when another node hands
  /// leases back, not by the announcements of new work.
  bool take_over = true;
  /// When (the store's clock) a claim last looked for expired leases.
  std::optional<timestamp> took_over_at;
  bool draining = false;
  /// The earliest time a wake-up for future work is set for.
  std::optional<timestamp> wake_at;
  std::vector<std::string> task_ids;
  /// The tasks among task_ids whose bodies may block, and those whose
  /// bodies never do (claimed alone while there is no blocking room).
  std::unordered_set<std::string> blocking_task_ids;
  std::vector<std::string> blocking_task_list;
  std::vector<std::string> inline_task_ids;
  /// A node with tasks of both kinds claims them apart, blocking ones
  /// within the blocking room, inline ones within the slots alone: every
  /// claim round is two claims. True while the second is due.
  bool second_kind_due = false;
  /// Which kind the next claim round starts with.
  bool blocking_first = false;
  std::uint64_t task_generation = ~std::uint64_t{0};
  /// Callers waiting for an execution's end (see waiter_registry); a
  /// timed wait is dropped by its timer, so waits that give up never pile
  /// up.
  waiter_registry waiters;
  std::vector<caf::response_promise> drained;
  std::uint64_t claimed = 0;
  std::uint64_t claims = 0;
  std::uint64_t leases_lost = 0;
  /// Rows the last renewal found owned by this node with no execution
  /// actor here (see sweep_orphans).
  std::unordered_set<std::string> orphan_suspects;
  /// Rows a claim took again while their previous actor still runs here
  /// (start_claimed): each starts when that actor is gone.
  std::unordered_map<std::string, execution_record> reclaimed;
  std::uint64_t orphans_handed_back = 0;
};

using state_ptr = std::shared_ptr<dispatcher_state>;

void claim(caf::event_based_actor* self, const state_ptr& st);

std::size_t free_slots(const dispatcher_state& st) {
  const auto max = st.rt->options.max_concurrent;
  return max - std::min(max, st.running_bodies + st.reserved + st.claim_limit);
}

/// How many new rows this node may store already claimed by itself
/// (take_locally): none unless it runs tasks and is not draining; its free
/// slots while its last claim left no ready work behind; otherwise all but
/// one claim batch of them, so rows waiting in the store keep their room
/// and new ones never starve them.
std::size_t local_room(const dispatcher_state& st) {
  const auto& opts = st.rt->options;
  if (!opts.run_tasks || !opts.claim_on_insert || st.draining)
    return 0;
  const auto free = free_slots(st);
  if (!st.backlog)
    return free;
  return free > opts.claim_batch_size ? free - opts.claim_batch_size : 0;
}

bool takes_locally(const dispatcher_state& st) {
  return local_room(st) > 0;
}

/// Publishes takes_locally() for the senders of new rows (runtime::
/// local_claims), so rows go through this actor only when it may take them.
void update_hint(const dispatcher_state& st) {
  st.rt->local_claims.store(takes_locally(st), std::memory_order_relaxed);
}

/// Whether a poll should look for expired leases again. In memory and
/// SQLite the scan reads every active row of the node's tasks (PostgreSQL
/// gates it with a lease floor per owner, migration 6; before that, on
/// every 500 ms poll it was the costliest statement of a busy node). A
/// lease that ran out is found within one renewal interval of its expiry
/// instead of one poll interval.
bool take_over_due(const dispatcher_state& st) {
  return !st.took_over_at
         || st.rt->db->now() - *st.took_over_at
              >= st.rt->options.lease_renew_interval;
}

void refresh_task_ids(dispatcher_state& st) {
  if (auto gen = st.rt->tasks->generation(); gen != st.task_generation) {
    st.task_ids = st.rt->tasks->ids();
    st.blocking_task_ids.clear();
    st.blocking_task_list.clear();
    st.inline_task_ids.clear();
    for (const auto& id : st.task_ids) {
      // Only tasks and parent tasks have bodies; sequences and loops
      // never need a worker thread.
      auto def = st.rt->tasks->find(id);
      const bool blocking = def && def->options.may_block
                            && (def->kind == task_kind::task
                                || def->kind == task_kind::parent);
      if (!blocking)
        st.inline_task_ids.push_back(id);
      else {
        st.blocking_task_ids.insert(id);
        st.blocking_task_list.push_back(id);
      }
    }
    st.task_generation = gen;
  }
}

/// Whether the body of claimed `row` will need a worker thread: a running
/// task or parent of a blocking task (takes_slot()).
bool takes_blocking_slot(const dispatcher_state& st,
                         const execution_record& row) {
  return takes_slot(row) && st.blocking_task_ids.contains(row.task_id);
}

void schedule_wake(caf::event_based_actor* self, const state_ptr& st,
                   timestamp at) {
  if (st->wake_at && *st->wake_at <= at)
    return;
  st->wake_at = at;
  st->rt->set_timer(caf::actor_cast<caf::actor>(self),
                    st->rt->delay_until(at),
                    caf::make_message(rerun_atom::value));
}

void on_ready(caf::event_based_actor* self, const state_ptr& st,
              timestamp at) {
  if (at <= st->rt->db->now())
    claim(self, st);
  else
    schedule_wake(self, st, at);
}

void check_drained(const state_ptr& st) {
  if (st->draining && st->running_bodies == 0 && st->reserved == 0
      && !st->claiming) {
    for (auto& rp : st->drained)
      rp.deliver(true);
    st->drained.clear();
  }
}

/// Spawns the execution actor of a row this node claimed (at `at`).
///
/// Two bodies of one execution must never run at once, and a claim may
/// take a row whose actor still runs here: this node's own lease ran out
/// (a commit that outlasted it, renewals that failed) and the take-over
/// found it. Nothing that actor writes can apply any more (the claim
/// moved the version): it is told so (`reclaimed`) and ends, once its
/// body returned if one runs; the claimed row waits for it
/// (`dispatcher_state::reclaimed`) and starts only then, so its body runs
/// after the other one, never beside it.
///
/// `lease` is what this node knew of the row's lease before (its last
/// actor's): renewals that found the row confirmed it whichever actor ran.
void start_claimed(caf::event_based_actor* self, const state_ptr& st,
                   execution_record row, std::int64_t at,
                   row_lease_ptr lease = nullptr) {
  auto [i, fresh] = st->live.try_emplace(row.id);
  if (!fresh) {
    self->send(i->second.actor, reclaimed_atom::value);
    st->reclaimed.insert_or_assign(row.id, std::move(row));
    return;
  }
  if (takes_slot(row))
    ++st->running_bodies;
  const bool blocking = takes_blocking_slot(*st, row);
  if (blocking)
    st->blocking.hold();
  if (!lease)
    lease = caf::make_counted<row_lease>(row.lease_expires_at);
  else if (row.lease_expires_at)
    lease->confirm(*row.lease_expires_at);
  auto actor = spawn_execution(self, st->rt, std::move(row), lease);
  i->second = {std::move(actor), at, std::move(lease), blocking};
}

void claim(caf::event_based_actor* self, const state_ptr& st) {
  if (st->draining || !st->rt->options.run_tasks)
    return;
  if (st->claiming) {
    st->rerun = true;
    return;
  }
  auto& opts = st->rt->options;
  auto free = free_slots(*st);
  if (free == 0) {
    st->backlog = true;
    update_hint(*st);
    return;
  }
  refresh_task_ids(*st);
  if (st->task_ids.empty())
    return;
  auto limit = std::min(opts.claim_batch_size, free);
  // Blocking tasks: no more than the worker threads can start
  // (blocking_capacity). A node with tasks of both kinds claims each kind
  // on its own, in turn, so that the blocking room never bounds a claim of
  // inline work; without blocking room it claims inline work only.
  const auto room = st->blocking.room();
  const bool has_blocking = !st->blocking_task_ids.empty();
  const bool has_inline = !st->inline_task_ids.empty();
  bool blocking_claim = false;
  // The second claim of a round keeps what the first found: work left
  // behind (backlog) holds for the round.
  const bool round_start = !st->second_kind_due;
  const std::vector<std::string>* ids = &st->task_ids;
  if (has_blocking && has_inline) {
    if (!st->second_kind_due) { // a round begins
      blocking_claim = st->blocking_first;
      st->second_kind_due = true;
    } else { // and ends, with the other kind; the next starts with it
      blocking_claim = !st->blocking_first;
      st->second_kind_due = false;
      st->blocking_first = !st->blocking_first;
    }
    ids = blocking_claim ? &st->blocking_task_list : &st->inline_task_ids;
  } else {
    blocking_claim = has_blocking;
  }
  st->blocking_waits = has_blocking && room == 0;
  if (blocking_claim && room == 0) {
    if (!st->second_kind_due) { // and the inline half ran already
      update_hint(*st);
      return;
    }
    // The inline half of the round runs now, and ends it.
    st->second_kind_due = false;
    blocking_claim = false;
    ids = &st->inline_task_ids;
  }
  if (blocking_claim)
    limit = std::min(limit, room);
  // A take-over covers both halves of a round.
  const bool take_over = st->take_over;
  claim_request req{st->rt->incarnation, opts.lease_duration, limit, *ids,
                    take_over};
  if (take_over)
    st->took_over_at = st->rt->db->now();
  st->take_over = take_over && st->second_kind_due;
  st->claiming = true;
  st->claim_limit = limit;
  st->blocking.claiming(blocking_claim ? limit : 0);
  if (round_start)
    st->backlog = false;
  st->rerun = false;
  update_hint(*st);
  ++st->claims;
  self->request(st->rt->claimer, caf::infinite, claim_atom::value,
                std::move(req))
    .then(
      [=](claim_result& res) {
        st->claiming = false;
        st->claim_limit = 0;
        st->blocking.claiming(0);
        st->claimed += res.claimed.size();
        const auto at = steady_nanos();
        for (auto& row : res.claimed)
          start_claimed(self, st, std::move(row), at);
        if (res.claimed.size() >= limit)
          st->backlog = true;
        if (res.next_ready_at)
          schedule_wake(self, st, *res.next_ready_at);
        check_drained(st);
        if (st->backlog || st->rerun || st->second_kind_due)
          claim(self, st);
        update_hint(*st);
      },
      [=](caf::error&) {
        // The store is unavailable: the poll tries again.
        st->claiming = false;
        st->claim_limit = 0;
        st->blocking.claiming(0);
        check_drained(st);
        update_hint(*st);
      });
}

/// A body's slot is free (`blocking`: one counted in st->blocking): claim
/// more if work was left behind.
void free_slot(caf::event_based_actor* self, const state_ptr& st,
               bool blocking) {
  DURABLE_ASSERT(st->running_bodies > 0, "a slot freed that no body held");
  if (st->running_bodies > 0)
    --st->running_bodies;
  if (blocking)
    st->blocking.release();
  check_drained(st);
  if (st->backlog || (blocking && st->blocking_waits))
    claim(self, st);
  update_hint(*st);
}

/// The slot an execution actor of this node held is free: a blocking one
/// if its live entry says so (the last slot it took).
void free_slot_of(caf::event_based_actor* self, const state_ptr& st,
                  live_execution* x) {
  bool blocking = false;
  if (x && x->blocking_slot) {
    blocking = true;
    x->blocking_slot = false;
  }
  free_slot(self, st, blocking);
}

/// New rows of this node's tasks that it may start at once, marked as
/// claimed by it (store_rules::claim) before they are stored: they are
/// inserted running with this node's lease, so no claim has to find them.
struct local_claims {
  /// Positions of the taken rows among the rows to be stored.
  std::vector<std::size_t> positions;
  /// Copies of the taken rows, as they will be stored.
  std::vector<execution_record> rows;
  /// How many of them are of blocking tasks (reserved in st->blocking).
  std::size_t blocking = 0;
};

/// Takes up to local_room() of `rows` (ready, due now, of a task this node
/// runs); each holds a slot (`reserved`) until adopt() learns whether it
/// was stored. Null when it takes none.
std::shared_ptr<local_claims>
take_locally(const state_ptr& st, std::vector<execution_record>& rows) {
  const auto room = local_room(*st);
  if (room == 0)
    return nullptr;
  refresh_task_ids(*st);
  const auto now = st->rt->db->now();
  const auto& opts = st->rt->options;
  auto blocking_room = st->blocking.room_for_take();
  std::shared_ptr<local_claims> out;
  for (std::size_t i = 0; i < rows.size() && (!out || out->rows.size() < room);
       ++i) {
    auto& r = rows[i];
    if (r.status != execution_status::ready
        || !store_rules::is_claimable(r, now)
        || std::find(st->task_ids.begin(), st->task_ids.end(), r.task_id)
             == st->task_ids.end())
      continue;
    // A blocking one only while a worker thread can start it; the others
    // are stored ready, for whichever node has a free thread.
    const bool blocking = st->blocking_task_ids.contains(r.task_id);
    if (blocking && blocking_room == 0)
      continue;
    store_rules::claim(r, now, st->rt->incarnation, opts.lease_duration);
    if (!out)
      out = std::make_shared<local_claims>();
    out->positions.push_back(i);
    out->rows.push_back(r);
    if (blocking) {
      --blocking_room;
      ++out->blocking;
    }
  }
  if (out) {
    st->reserved += out->rows.size();
    st->blocking.reserve(out->blocking);
    update_hint(*st);
  }
  return out;
}

/// Starts the rows of `taken` that were stored (`stored(k)` for the k-th),
/// as if a claim had returned them, and gives back the slots of the others.
template <class Stored>
void adopt(caf::event_based_actor* self, const state_ptr& st,
           local_claims& taken, Stored stored) {
  st->reserved -= taken.rows.size();
  st->blocking.unreserve(taken.blocking);
  taken.blocking = 0;
  const auto at = steady_nanos();
  for (std::size_t k = 0; k < taken.rows.size(); ++k)
    if (stored(k))
      start_claimed(self, st, std::move(taken.rows[k]), at);
  taken.rows.clear();
  check_drained(st);
  if (st->backlog)
    claim(self, st);
  update_hint(*st);
}

/// The write that would store `taken` failed, and whether it committed is
/// unknown: read the rows back and start those stored as this node took
/// them; the others give their slots back. (Left out, a stored row would
/// stay owned by this node with no actor until the orphan sweep.)
void adopt_as_stored(caf::event_based_actor* self, const state_ptr& st,
                     std::shared_ptr<local_claims> taken) {
  std::vector<std::string> ids;
  ids.reserve(taken->rows.size());
  for (const auto& r : taken->rows)
    ids.push_back(r.id);
  self->request(st->rt->storage, caf::infinite, fetch_atom::value,
                std::move(ids))
    .then(
      [=](std::vector<maybe_record>& stored) {
        // One answer per id, in the order of taken->rows.
        adopt(self, st, *taken, [&](std::size_t k) {
          const auto& mine = taken->rows[k];
          const auto& r = k < stored.size() ? stored[k].record : std::nullopt;
          return r && r->version == mine.version && r->owner == mine.owner;
        });
      },
      [=](caf::error&) {
        adopt(self, st, *taken, [](std::size_t) { return false; });
      });
}

/// Inserts `rows` through the inserter after take_locally() took `taken`
/// of them; `done` gets the inserter's reply, on this actor.
void insert_taken(caf::event_based_actor* self, const state_ptr& st,
                  std::vector<execution_record> rows,
                  std::shared_ptr<local_claims> taken, insert_callback done) {
  self->request(st->rt->inserter, caf::infinite, insert_atom::value,
                std::move(rows))
    .then(
      [=](insert_reply& reply) {
        if (!reply.error.empty()) {
          adopt_as_stored(self, st, taken);
          done(std::move(reply));
          return;
        }
        adopt(self, st, *taken, [&](std::size_t k) {
          auto i = taken->positions[k];
          return reply.error.empty() && i < reply.outcomes.size()
                 && reply.outcomes[i].result
                      == insert_outcome::kind::inserted;
        });
        done(std::move(reply));
      },
      [=](caf::error& err) {
        adopt_as_stored(self, st, taken);
        done(insert_reply{{}, caf::to_string(err)});
      });
}

/// Answers a waiter of `id` with how its wait ended: the finished row, or
/// an error the facade and the executor actor turn into theirs
/// (durable's category for not-found and shutdown).
void answer_waiter(caf::response_promise& rp, const std::string& id,
                   wait_end end) {
  switch (end.what) {
    case wait_end::kind::finished:
      rp.deliver(maybe_record{std::move(end.row)});
      break;
    case wait_end::kind::not_found:
      rp.deliver(to_caf_error(execution_not_found(id)));
      break;
    case wait_end::kind::timed_out:
      rp.deliver(caf::make_error(caf::sec::request_timeout));
      break;
    case wait_end::kind::shut_down:
      rp.deliver(to_caf_error(shut_down_while_waiting(id)));
      break;
    case wait_end::kind::failed:
      rp.deliver(caf::make_error(caf::sec::runtime_error,
                                 std::move(end.message)));
      break;
  }
}

void fetch_for_watchers(caf::event_based_actor* self, const state_ptr& st,
                        const std::string& id) {
  self->request(st->rt->storage, caf::infinite, fetch_atom::value, id)
    .then([=](maybe_record& r) { st->waiters.resolve(id, r.record); },
          [](caf::error&) {});
}

/// One tick of the waiters' re-check: reads a batch of watched rows, so
/// that an end whose announcement never came (a store that does not hear
/// other nodes, a lost NOTIFY) still ends its waits; ticks every
/// poll_interval while anyone waits.
void recheck_waiters(caf::event_based_actor* self, const state_ptr& st) {
  auto plan = st->waiters.recheck_tick();
  if (plan.again)
    st->rt->set_timer(caf::actor_cast<caf::actor>(self),
                      std::chrono::duration_cast<caf::timespan>(
                        st->rt->options.poll_interval),
                      caf::make_message(recheck_atom::value));
  if (plan.ids.empty())
    return;
  auto ids = plan.ids;
  self->request(st->rt->storage, caf::infinite, fetch_atom::value,
                std::move(plan.ids))
    .then(
      [=](std::vector<maybe_record>& rows) {
        st->waiters.recheck_done();
        for (std::size_t i = 0; i < ids.size() && i < rows.size(); ++i)
          st->waiters.resolve(ids[i], rows[i].record);
      },
      // The store is unavailable: the next tick tries again.
      [=](caf::error&) { st->waiters.recheck_done(); });
}

void route(caf::event_based_actor* self, const state_ptr& st,
           const std::vector<store_event>& events) {
  for (const auto& e : events) {
    switch (e.kind) {
      case store_event::type::work_ready:
        // Without an execution id: leases handed back (release_leases).
        if (e.execution_id.empty())
          st->take_over = true;
        on_ready(self, st, e.at);
        break;
      case store_event::type::finished:
        if (!e.parent_id.empty())
          if (auto i = st->live.find(e.parent_id); i != st->live.end())
            self->send(i->second.actor, child_done_atom::value,
                       e.execution_id, finished_row{e.row});
        if (st->waiters.watches(e.execution_id)) {
          if (e.row)
            st->waiters.resolve(e.execution_id, *e.row);
          else
            fetch_for_watchers(self, st, e.execution_id);
        }
        break;
      case store_event::type::cancelled:
        if (e.owner == st->rt->incarnation)
          if (auto i = st->live.find(e.execution_id); i != st->live.end())
            self->send(i->second.actor, cancel_atom::value);
        break;
      case store_event::type::deadline:
        self->send(st->rt->janitor, deadline_atom::value, e.at);
        break;
      case store_event::type::resync:
        st->take_over = true;
        claim(self, st);
        for (auto& [id, x] : st->live)
          self->send(x.actor, resync_atom::value);
        self->send(st->rt->janitor, expire_atom::value);
        for (auto& id : st->waiters.watched_ids())
          fetch_for_watchers(self, st, id);
        break;
      case store_event::type::corrupt: // the engine's listener reports it
        break;
    }
  }
}

/// Hands back the rows this node owns that no actor of it carries.
///
/// Every row a node owns must be run by one of its actors or given back:
/// the lease keeper renews all of them, so a row whose actor never started
/// (a claim or an insert whose reply was lost, a commit in doubt that did
/// happen) would otherwise stay owned and unfinished until the node stops.
/// A row is handed back when two renewals in a row found it without an
/// actor (one could be a claim whose reply is still on its way), so within
/// two renewal intervals.
void sweep_orphans(caf::event_based_actor* self, const state_ptr& st,
                   const std::vector<std::string>& renewed) {
  std::unordered_set<std::string> suspects;
  std::vector<std::string> orphans;
  for (const auto& id : renewed) {
    if (st->live.contains(id))
      continue;
    if (st->orphan_suspects.contains(id))
      orphans.push_back(id);
    else
      suspects.insert(id);
  }
  st->orphan_suspects = std::move(suspects);
  if (orphans.empty())
    return;
  self->request(st->rt->storage, caf::infinite, handback_atom::value,
                std::move(orphans))
    .then(
      [=](std::size_t handed_back) {
        st->orphans_handed_back += handed_back;
        if (handed_back > 0) {
          st->take_over = true;
          claim(self, st);
        }
      },
      [](caf::error&) {}); // the next renewal finds them again
}

/// Registers a waiter for the end of `id` (answered from the store's
/// announcements or the re-check, or at once if it finished); a timed one
/// is dropped with `request_timeout` when `timeout` passes.
caf::response_promise add_waiter(caf::event_based_actor* self,
                                  const state_ptr& st, const std::string& id,
                                  std::optional<caf::timespan> timeout) {
  auto rp = self->make_response_promise();
  auto seq = st->waiters.add(id, [rp, id](wait_end end) mutable {
    answer_waiter(rp, id, std::move(end));
  });
  if (timeout)
    st->waiters.set_timer(
      id, seq,
      st->rt->set_timer(caf::actor_cast<caf::actor>(self), *timeout,
                        caf::make_message(unwatch_atom::value, id, seq)));
  if (st->waiters.arm_recheck())
    st->rt->set_timer(caf::actor_cast<caf::actor>(self),
                      std::chrono::duration_cast<caf::timespan>(
                        st->rt->options.poll_interval),
                      caf::make_message(recheck_atom::value));
  self->request(st->rt->storage, caf::infinite, watch_atom::value, id)
    .then([=](maybe_record& r) { st->waiters.resolve(id, r.record); },
          [=](caf::error& err) {
            st->waiters.fail(id, self->system().render(err));
          });
  return rp;
}

} // namespace

caf::behavior dispatcher(caf::event_based_actor* self, runtime_ptr rt) {
  auto st = std::make_shared<dispatcher_state>(std::move(rt));
  st->waiters = waiter_registry{
    [rt = st->rt](std::uint64_t timer) { rt->cancel_timer(timer); }};
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // Before quitting: a promise dropped unanswered would leave its caller
    // (a thread in executor::wait()) blocked, and with it the actor
    // system's destructor.
    st->waiters.shut_down();
    for (auto& [id, x] : st->live)
      self->send_exit(x.actor, msg.reason);
    st->live.clear();
    self->quit(msg.reason);
  });
  auto poll = st->rt->options.poll_interval;
  return {
    [=](poll_atom) {
      if (take_over_due(*st))
        st->take_over = true;
      claim(self, st);
      if (!st->draining)
        st->rt->set_timer(caf::actor_cast<caf::actor>(self),
                          std::chrono::duration_cast<caf::timespan>(poll),
                          caf::make_message(poll_atom::value));
    },
    [=](rerun_atom) {
      st->wake_at.reset();
      claim(self, st);
    },
    [=](events_atom, const std::vector<store_event>& events) {
      route(self, st, events);
    },
    // From a worker thread: the last holder of a blocking body's slot.
    [=](slot_free_atom, bool blocking) { free_slot(self, st, blocking); },
    // From the execution actor of `id`: the last holder of its slot.
    [=](slot_free_atom, const std::string& id) {
      auto i = st->live.find(id);
      free_slot_of(self, st, i == st->live.end() ? nullptr : &i->second);
    },
    [=](gone_atom, const std::string& id, const caf::actor_addr& addr,
        bool slot_freed) {
      auto i = st->live.find(id);
      const bool mine
        = i != st->live.end() && i->second.actor.address() == addr;
      if (slot_freed)
        free_slot_of(self, st, mine ? &i->second : nullptr);
      if (mine) {
        auto lease = std::move(i->second.lease);
        st->live.erase(i);
        if (auto r = st->reclaimed.find(id); r != st->reclaimed.end()) {
          auto row = std::move(r->second);
          st->reclaimed.erase(r);
          start_claimed(self, st, std::move(row), steady_nanos(),
                        std::move(lease));
        }
      }
    },
    [=](renewed_atom, const std::vector<std::string>& renewed,
        std::int64_t started, std::int64_t floor_us) {
      // Each row the renewal found is ours until at least its floor.
      const auto floor = from_micros(floor_us);
      std::unordered_set<std::string> ours;
      ours.reserve(renewed.size());
      for (const auto& id : renewed) {
        ours.insert(id);
        if (auto i = st->live.find(id); i != st->live.end())
          i->second.lease->confirm(floor);
      }
      // A row claimed before the renewal started that it did not renew
      // is no longer ours: our lease expired and another node claimed it
      // (or it finished and its actor is about to end). Stop the body
      // now rather than at its next write.
      for (auto& [id, x] : st->live)
        if (x.claimed_at < started && !ours.contains(id)) {
          ++st->leases_lost;
          self->send(x.actor, lost_atom::value);
        }
      sweep_orphans(self, st, renewed);
    },
    [=](handback_atom) {
      // An execution actor gave its row back after a failed write: claim
      // it (or let another node) without waiting for the next poll.
      st->take_over = true;
      claim(self, st);
    },
    [=](watch_atom, const std::string& id) {
      return add_waiter(self, st, id, std::nullopt);
    },
    [=](watch_atom, const std::string& id, caf::timespan timeout) {
      return add_waiter(self, st, id, timeout);
    },
    [=](unwatch_atom, const std::string& id, std::uint64_t seq) {
      st->waiters.expire(id, seq);
    },
    [=](recheck_atom) { recheck_waiters(self, st); },
    // New rows, sent here instead of to the inserter while
    // runtime::local_claims is set; what is not taken is passed on as is.
    [=](insert_atom, std::vector<execution_record>& rows,
        insert_callback& done) {
      auto taken = take_locally(st, rows);
      if (!taken)
        self->send(st->rt->inserter, insert_atom::value, std::move(rows),
                   std::move(done));
      else
        insert_taken(self, st, std::move(rows), std::move(taken),
                     std::move(done));
    },
    [=](insert_atom, std::vector<execution_record>& rows)
      -> caf::result<insert_reply> {
      auto taken = take_locally(st, rows);
      if (!taken) {
        self->delegate(st->rt->inserter, insert_atom::value, std::move(rows));
        return caf::delegated<insert_reply>{};
      }
      auto rp = self->make_response_promise<insert_reply>();
      insert_taken(self, st, std::move(rows), std::move(taken),
                   [rp](insert_reply reply) mutable {
                     rp.deliver(std::move(reply));
                   });
      return rp;
    },
    // A transition inserting children, sent here instead of to the storage
    // actor while runtime::local_claims is set: the children this node may
    // start at once are stored claimed by it and started once it applied.
    [=](apply_atom, transition& t) -> caf::result<write_outcome> {
      auto taken = take_locally(st, t.children);
      if (!taken) {
        self->delegate(st->rt->storage, apply_atom::value, std::move(t));
        return caf::delegated<write_outcome>{};
      }
      auto rp = self->make_response_promise<write_outcome>();
      self->request(st->rt->storage, caf::infinite, apply_atom::value,
                    std::move(t))
        .then(
          [=](write_outcome& out) mutable {
            adopt(self, st, *taken, [&](std::size_t) {
              return out.status == write_status::applied;
            });
            rp.deliver(std::move(out));
          },
          [=](caf::error& err) mutable {
            adopt_as_stored(self, st, taken);
            rp.deliver(std::move(err));
          });
      return rp;
    },
    // A finalize task its parent's actor would run itself before storing
    // it (execution_actor, "finalize here"): marked as claimed by this node
    // and counted as a running body if take_locally() takes it; the actor
    // frees the slot as any body does. Nothing when there is no room.
    [=](take_atom, execution_record& row) -> maybe_record {
      std::vector<execution_record> rows{std::move(row)};
      auto taken = take_locally(st, rows);
      if (!taken)
        return {};
      --st->reserved;
      ++st->running_bodies;
      if (taken->blocking > 0) {
        st->blocking.unreserve(1);
        st->blocking.hold();
        // The parent's actor holds this slot and frees it as its own.
        const auto& fin = taken->rows.front();
        if (fin.parent)
          if (auto i = st->live.find(fin.parent->execution_id);
              i != st->live.end())
            i->second.blocking_slot = true;
      }
      update_hint(*st);
      return {std::move(taken->rows.front())};
    },
    [=](drain_atom) {
      st->draining = true;
      update_hint(*st);
      auto rp = self->make_response_promise();
      st->drained.push_back(rp);
      check_drained(st);
      return rp;
    },
    [=](stats_atom) {
      return engine_stats{st->running_bodies, st->live.size(), st->claimed,
                          st->claims, st->leases_lost, st->waiters.size()};
    },
  };
}

} // namespace durable::actors
