#include "durable/actors/janitor.hpp"

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"
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
};

void scan(caf::event_based_actor* self,
          const std::shared_ptr<janitor_state>& st);

void wake_at(caf::event_based_actor* self,
             const std::shared_ptr<janitor_state>& st, timestamp at) {
  if (st->wake_at && *st->wake_at <= at)
    return;
  st->wake_at = at;
  st->rt->set_timer(caf::actor_cast<caf::actor>(self),
                    st->rt->delay_until(at),
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

/// The leadership lease that lets one node of a cluster run the scans.

caf::timespan to_timespan(millis d) {
  return std::chrono::duration_cast<caf::timespan>(d);
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
      st->leading = leading;
      // A new leader knows no deadlines yet: one scan finds them all.
      if (became)
        scan(self, st);
    },
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
  return {
    [=](renew_atom) {
      try {
        // Rows claimed before this instant that the renewal did not find
        // were taken over by another node (see the dispatcher).
        const auto started = steady_nanos();
        const auto store_started = rt->db->now();
        auto renewed = rt->db->renew_leases(rt->incarnation,
                                            rt->options.lease_duration);
        // Every row still ours now has a lease past this (renew_leases):
        // the dispatcher tells each one's row_lease.
        const auto floor = store_rules::renewal_floor(
          store_started, rt->options.lease_duration);
        self->send(rt->dispatcher, renewed_atom::value, std::move(renewed),
                   started, to_micros(floor));
        self->send(rt->janitor, leader_atom::value,
                   rt->options.run_tasks
                     && rt->db->try_lead(maintenance_role, rt->incarnation,
                                         rt->options.lease_duration));
      } catch (const std::exception&) {
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
