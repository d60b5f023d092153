#include "durable/actors/dispatcher.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <caf/all.hpp>

#include "durable/actors/execution_actor.hpp"
#include "durable/actors/messages.hpp"

namespace durable::actors {

namespace {

/// An execution actor of this node and when its row was claimed.
struct live_execution {
  caf::actor actor;
  /// steady_nanos() when the claim's result arrived: the claim committed
  /// before then.
  std::int64_t claimed_at = 0;
};

struct dispatcher_state {
  runtime_ptr rt;
  std::unordered_map<std::string, live_execution> live;
  std::size_t running_bodies = 0;
  bool claiming = false;
  /// Work may be left behind: claim again when a claim ends or a slot frees.
  bool backlog = false;
  /// The next claim also takes over expired leases (claim_request::
  /// take_over): set at start, by each poll, by a resync and when another
  /// node hands leases back, not by the announcements of new work.
  bool take_over = true;
  bool draining = false;
  /// The earliest time a wake-up for future work is set for.
  std::optional<timestamp> wake_at;
  std::vector<std::string> task_ids;
  std::uint64_t task_generation = ~std::uint64_t{0};
  /// Someone waiting for an execution's end; a timed wait is dropped by
  /// its timer, so waits that give up never pile up.
  struct waiter {
    caf::response_promise rp;
    std::uint64_t seq = 0;
    std::uint64_t timer = 0;
  };
  std::unordered_map<std::string, std::vector<waiter>> watchers;
  std::size_t waiter_count = 0;
  std::uint64_t next_waiter = 1;
  std::vector<caf::response_promise> drained;
  std::uint64_t claimed = 0;
  std::uint64_t claims = 0;
  std::uint64_t leases_lost = 0;
};

using state_ptr = std::shared_ptr<dispatcher_state>;

void claim(caf::event_based_actor* self, const state_ptr& st);

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
  if (st->draining && st->running_bodies == 0 && !st->claiming) {
    for (auto& rp : st->drained)
      rp.deliver(true);
    st->drained.clear();
  }
}

void claim(caf::event_based_actor* self, const state_ptr& st) {
  if (st->draining || !st->rt->options.run_tasks)
    return;
  if (st->claiming) {
    st->backlog = true;
    return;
  }
  auto& opts = st->rt->options;
  auto free = opts.max_concurrent - std::min(opts.max_concurrent,
                                             st->running_bodies);
  if (free == 0) {
    st->backlog = true;
    return;
  }
  if (auto gen = st->rt->tasks->generation(); gen != st->task_generation) {
    st->task_ids = st->rt->tasks->ids();
    st->task_generation = gen;
  }
  if (st->task_ids.empty())
    return;
  claim_request req{st->rt->incarnation, opts.lease_duration,
                    std::min(opts.claim_batch_size, free), st->task_ids,
                    st->take_over};
  st->take_over = false;
  auto limit = req.limit;
  st->claiming = true;
  st->backlog = false;
  ++st->claims;
  self->request(st->rt->claimer, caf::infinite, claim_atom::value,
                std::move(req))
    .then(
      [=](claim_result& res) {
        st->claiming = false;
        st->claimed += res.claimed.size();
        const auto at = steady_nanos();
        for (auto& row : res.claimed) {
          if (takes_slot(row))
            ++st->running_bodies;
          auto id = row.id;
          st->live[id] = {spawn_execution(self, st->rt, std::move(row)), at};
        }
        if (res.claimed.size() >= limit)
          st->backlog = true;
        if (res.next_ready_at)
          schedule_wake(self, st, *res.next_ready_at);
        check_drained(st);
        if (st->backlog)
          claim(self, st);
      },
      [=](caf::error&) {
        // The store is unavailable: the poll tries again.
        st->claiming = false;
        check_drained(st);
      });
}

/// A body's slot is free: claim more if work was left behind.
void free_slot(caf::event_based_actor* self, const state_ptr& st) {
  if (st->running_bodies > 0)
    --st->running_bodies;
  check_drained(st);
  if (st->backlog)
    claim(self, st);
}

void deliver_watchers(const state_ptr& st, const std::string& id,
                      const maybe_record& r) {
  auto i = st->watchers.find(id);
  if (i == st->watchers.end())
    return;
  for (auto& w : i->second) {
    if (w.timer != 0)
      st->rt->cancel_timer(w.timer);
    if (r.record)
      w.rp.deliver(r);
    else
      w.rp.deliver(caf::make_error(caf::sec::runtime_error,
                                   "Task execution not found [executionId="
                                     + id + "]"));
  }
  st->waiter_count -= i->second.size();
  st->watchers.erase(i);
}

void fetch_for_watchers(caf::event_based_actor* self, const state_ptr& st,
                        const std::string& id) {
  self->request(st->rt->storage, caf::infinite, fetch_atom::value, id)
    .then(
      [=](maybe_record& r) {
        if (!r.record || r.record->is_finished())
          deliver_watchers(st, id, r);
      },
      [](caf::error&) {});
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
                       e.execution_id);
        if (st->watchers.count(e.execution_id) != 0)
          fetch_for_watchers(self, st, e.execution_id);
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
        for (auto& [id, waiting] : st->watchers)
          fetch_for_watchers(self, st, id);
        break;
    }
  }
}

/// Registers a waiter for the end of `id` (answered from the store's
/// announcements, or at once if it finished); a timed one is dropped with
/// `request_timeout` when `timeout` passes.
caf::response_promise add_waiter(caf::event_based_actor* self,
                                  const state_ptr& st, const std::string& id,
                                  std::optional<caf::timespan> timeout) {
  auto rp = self->make_response_promise();
  dispatcher_state::waiter w{rp, st->next_waiter++, 0};
  if (timeout)
    w.timer = st->rt->set_timer(caf::actor_cast<caf::actor>(self), *timeout,
                                caf::make_message(unwatch_atom::value, id,
                                                  w.seq));
  st->watchers[id].push_back(std::move(w));
  ++st->waiter_count;
  self->request(st->rt->storage, caf::infinite, watch_atom::value, id)
    .then(
      [=](maybe_record& r) {
        if (!r.record || r.record->is_finished())
          deliver_watchers(st, id, r);
      },
      [=](caf::error& err) {
        auto i = st->watchers.find(id);
        if (i == st->watchers.end())
          return;
        for (auto& x : i->second) {
          if (x.timer != 0)
            st->rt->cancel_timer(x.timer);
          x.rp.deliver(err);
        }
        st->waiter_count -= i->second.size();
        st->watchers.erase(i);
      });
  return rp;
}

} // namespace

caf::behavior dispatcher(caf::event_based_actor* self, runtime_ptr rt) {
  auto st = std::make_shared<dispatcher_state>();
  st->rt = std::move(rt);
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [id, x] : st->live)
      self->send_exit(x.actor, msg.reason);
    st->live.clear();
    self->quit(msg.reason);
  });
  auto poll = st->rt->options.poll_interval;
  return {
    [=](poll_atom) {
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
    [=](slot_free_atom) { free_slot(self, st); },
    [=](gone_atom, const std::string& id, const caf::actor_addr& addr,
        bool slot_freed) {
      auto i = st->live.find(id);
      if (i != st->live.end() && i->second.actor.address() == addr)
        st->live.erase(i);
      if (slot_freed)
        free_slot(self, st);
    },
    [=](renewed_atom, const std::vector<std::string>& renewed,
        std::int64_t started) {
      // A row claimed before the renewal started that it did not renew
      // is no longer ours: our lease expired and another node claimed it
      // (or it finished and its actor is about to end). Stop the body
      // now rather than at its next write.
      std::unordered_set<std::string> ours(renewed.begin(), renewed.end());
      for (auto& [id, x] : st->live)
        if (x.claimed_at < started && !ours.contains(id)) {
          ++st->leases_lost;
          self->send(x.actor, lost_atom::value);
        }
    },
    [=](watch_atom, const std::string& id) {
      return add_waiter(self, st, id, std::nullopt);
    },
    [=](watch_atom, const std::string& id, caf::timespan timeout) {
      return add_waiter(self, st, id, timeout);
    },
    [=](unwatch_atom, const std::string& id, std::uint64_t seq) {
      auto i = st->watchers.find(id);
      if (i == st->watchers.end())
        return;
      auto& ws = i->second;
      auto w = std::find_if(ws.begin(), ws.end(),
                            [seq](const auto& x) { return x.seq == seq; });
      if (w == ws.end())
        return;
      w->rp.deliver(caf::make_error(caf::sec::request_timeout));
      ws.erase(w);
      --st->waiter_count;
      if (ws.empty())
        st->watchers.erase(i);
    },
    [=](drain_atom) {
      st->draining = true;
      auto rp = self->make_response_promise();
      st->drained.push_back(rp);
      check_drained(st);
      return rp;
    },
    [=](stats_atom) {
      return engine_stats{st->running_bodies, st->live.size(), st->claimed,
                          st->claims, st->leases_lost, st->waiter_count};
    },
  };
}

} // namespace durable::actors
