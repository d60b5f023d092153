#include "durable/actors/janitor.hpp"

#include <memory>
#include <utility>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/messages.hpp"
#include "durable/actors/retention.hpp"
#include "durable/store_rules.hpp"

namespace durable::actors {

namespace {

struct janitor_state {
  runtime_ptr rt;
  std::optional<timestamp> wake_at;
  /// Only the cluster's maintenance leader scans (see lease_keeper).
  bool leading = false;
  bool scanning = false;
  bool rescan = false;
  // -- retention (only with options.retention.enabled()) --------------------
  /// A sweep tick is set (on a timer or in the mailbox).
  bool sweep_armed = false;
  /// A sweep's store call is under way (at most one at a time, even when
  /// leadership went and came back meanwhile).
  bool sweeping = false;
  /// The calls of the sweep under way, the next one first.
  std::vector<prune_request> sweep_left;
  /// Trees the sweep under way removed, and whether a call filled its
  /// batch (more may be left).
  std::size_t swept_roots = 0;
  bool sweep_full = false;
  /// The pause after the last sweep; doubles while sweeps remove nothing.
  millis sweep_pause{0};
};

void scan(caf::event_based_actor* self,
          const std::shared_ptr<janitor_state>& st);

void wake_at(caf::event_based_actor* self,
             const std::shared_ptr<janitor_state>& st, timestamp at) {
  if (st->wake_at && *st->wake_at <= at)
    return;
  st->wake_at = at;
  st->rt->set_timer(caf::actor_cast<caf::actor>(self), st->rt->delay_until(at),
                    caf::make_message(expire_atom::value));
}

void scan(caf::event_based_actor* self,
          const std::shared_ptr<janitor_state>& st) {
  if (!st->leading)
    return;
  if (st->scanning) {
    st->rescan = true;
    return;
  }
  st->scanning = true;
  self->request(st->rt->storage, caf::infinite, expire_atom::value)
    .then(
      [=](maybe_time& next) {
        st->scanning = false;
        if (next.at)
          wake_at(self, st, *next.at);
        if (st->rescan) {
          st->rescan = false;
          scan(self, st);
        }
      },
      [=](caf::error&) { st->scanning = false; });
}

caf::timespan to_timespan(millis d);

/// Sets the next sweep tick `delay` from now (at once for zero).
void arm_sweep(caf::event_based_actor* self,
               const std::shared_ptr<janitor_state>& st, millis delay) {
  if (st->sweep_armed)
    return;
  st->sweep_armed = true;
  if (delay.count() == 0)
    self->send(self, prune_atom::value);
  else
    st->rt->set_timer(caf::actor_cast<caf::actor>(self), to_timespan(delay),
                      caf::make_message(prune_atom::value));
}

/// Ends a sweep: at once again if a call filled its batch (on the prune
/// actor, beside the storage actor's commits), after
/// the sweep interval if it removed something, and after a pause that
/// doubles up to ten intervals while sweeps find nothing.
void end_sweep(caf::event_based_actor* self,
               const std::shared_ptr<janitor_state>& st) {
  const auto& opts = st->rt->options.retention;
  if (st->sweep_full)
    st->sweep_pause = millis{0};
  else if (st->swept_roots > 0 || st->sweep_pause.count() == 0)
    st->sweep_pause = opts.sweep_interval;
  else
    st->sweep_pause = std::min(st->sweep_pause * 2, opts.sweep_interval * 10);
  st->sweep_left.clear();
  st->sweeping = false;
  if (st->leading)
    arm_sweep(self, st, st->sweep_pause);
}

/// Sends the sweep's next store call, one batch per prune actor turn.
void sweep_next(caf::event_based_actor* self,
                const std::shared_ptr<janitor_state>& st) {
  if (!st->leading || st->sweep_left.empty()) {
    end_sweep(self, st);
    return;
  }
  auto req = std::move(st->sweep_left.front());
  st->sweep_left.erase(st->sweep_left.begin());
  const auto limit = req.limit;
  self->request(st->rt->pruner, caf::infinite, prune_atom::value, req)
    .then(
      [=](const prune_result& r) {
        st->swept_roots += r.roots;
        if (r.roots >= limit)
          st->sweep_full = true;
        sweep_next(self, st);
      },
      // The storage actor reported the failure to the observer; the next
      // sweep after the interval tries again.
      [=](caf::error&) {
        st->sweep_full = false;
        st->swept_roots = 0;
        st->sweep_pause = millis{0};
        end_sweep(self, st);
      });
}

void sweep(caf::event_based_actor* self,
           const std::shared_ptr<janitor_state>& st) {
  st->sweep_armed = false;
  // A sweep under way arms the next one when it ends.
  if (!st->leading || st->sweeping)
    return;
  st->sweeping = true;
  st->sweep_left = retention_requests(st->rt->options.retention, st->rt->now());
  st->swept_roots = 0;
  st->sweep_full = false;
  sweep_next(self, st);
}

/// The leadership lease that lets one node of a cluster run the scans.

caf::timespan to_timespan(millis d) {
  return std::chrono::duration_cast<caf::timespan>(d);
}

engine_event leadership_changed(bool leading) {
  engine_event ev;
  ev.kind = engine_event::type::leadership;
  ev.level = engine_event::severity::info;
  ev.operation = "try_lead";
  ev.leading = leading;
  ev.message = leading ? "this node is now the maintenance leader (it expires "
                         "sleepers, removes finished trees past their "
                         "retention and measures the ready backlog)"
                       : "this node is no longer the maintenance leader";
  return ev;
}

engine_event renewal_failed(const std::exception& e, int failures) {
  engine_event ev;
  ev.kind = engine_event::type::renewal_failed;
  ev.level = engine_event::severity::warning;
  ev.operation = "renew_leases";
  ev.failure = failure_of(e);
  ev.message = fmt::format("lease renewal failed ({} in a row): {}; rows "
                           "whose lease runs out meanwhile may be taken "
                           "over by other nodes",
                           failures, e.what());
  return ev;
}

engine_event lead_failed(const std::exception& e) {
  engine_event ev;
  ev.kind = engine_event::type::store_failure;
  ev.level = engine_event::severity::warning;
  ev.operation = "try_lead";
  ev.failure = failure_of(e);
  ev.message = fmt::format("store call try_lead failed: {}; this node "
                           "expires no sleepers until it succeeds",
                           e.what());
  return ev;
}

engine_event renewal_restored(int failures) {
  engine_event ev;
  ev.kind = engine_event::type::renewal_restored;
  ev.level = engine_event::severity::info;
  ev.operation = "renew_leases";
  ev.message = fmt::format("lease renewal works again after {} failed",
                           failures);
  return ev;
}

} // namespace

caf::behavior janitor(caf::event_based_actor* self, runtime_ptr rt) {
  auto st = std::make_shared<janitor_state>();
  st->rt = std::move(rt);
  return {
    [=](deadline_atom, timestamp at) {
      if (st->leading)
        wake_at(self, st, at);
    },
    [=](leader_atom, bool leading) {
      const bool became = leading && !st->leading;
      if (leading != st->leading)
        st->rt->report(leadership_changed(leading));
      st->leading = leading;
      // A new leader knows no deadlines yet: one scan finds them all.
      if (became)
        scan(self, st);
      if (became && st->rt->options.retention.enabled())
        arm_sweep(self, st, millis{0});
    },
    [=](prune_atom) { sweep(self, st); },
    [=](expire_atom) {
      st->wake_at.reset();
      scan(self, st);
    },
    [=](poll_atom) {
      // The safety net only: deadlines arrive as events, and a resync
      // scans at once. Every poll interval, this scan was a busy node's
      // third costliest statement on PostgreSQL with no sleeper at all.
      scan(self, st);
      st->rt->set_timer(
        caf::actor_cast<caf::actor>(self),
        to_timespan(st->rt->options.supervisor_recheck_interval),
        caf::make_message(poll_atom::value));
    },
  };
}

caf::behavior lease_keeper(caf::event_based_actor* self, runtime_ptr rt) {
  auto interval = to_timespan(rt->options.lease_renew_interval);
  // Renewals failed in a row (shared by the handler's copies).
  auto failures = std::make_shared<int>(0);
  return {
    [=](renew_atom) {
      bool renewed_leases = false;
      try {
        // Rows claimed before this instant that the renewal did not find
        // were taken over by another node (see the dispatcher).
        const auto started = steady_nanos();
        const auto store_started = rt->now();
        auto renewed = rt->db->renew_leases(rt->incarnation,
                                            rt->options.lease_duration);
        // Every row still ours now has a lease past this (renew_leases):
        // the dispatcher tells each one's row_lease.
        const auto floor = store_rules::renewal_floor(
          store_started, rt->options.lease_duration);
        self->send(rt->dispatcher, renewed_atom::value, std::move(renewed),
                   started, to_micros(floor));
        renewed_leases = true;
        if (*failures > 0)
          rt->report(renewal_restored(std::exchange(*failures, 0)));
        self->send(rt->janitor, leader_atom::value,
                   rt->options.run_tasks
                     && rt->db->try_lead(maintenance_role, rt->incarnation,
                                         rt->options.lease_duration));
      } catch (const std::exception& e) {
        rt->report(renewed_leases ? lead_failed(e)
                                  : renewal_failed(e, ++*failures));
        // Leadership is unknown: stop scanning until the store answers.
        self->send(rt->janitor, leader_atom::value, false);
        // Unreachable store: the next interval tries again; leases that
        // expire meanwhile are recovered by other nodes, and our late
        // writes are fenced by the version.
      }
      self->delayed_send(self, interval, renew_atom::value);
    },
  };
}

} // namespace durable::actors
