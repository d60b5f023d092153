#include "durable/actors/event_router.hpp"

#include <caf/all.hpp>

#include "durable/actors/claim_loop.hpp"
#include "durable/actors/dispatcher_waiters.hpp"
#include "durable/actors/messages.hpp"

namespace durable::actors {

event_router::event_router(caf::event_based_actor* self, runtime_ptr rt,
                           caf::actor janitor, caf::actor storage,
                           claim_loop& loop, dispatcher_waiters& waiters)
  : self_(self),
    rt_(std::move(rt)),
    janitor_(std::move(janitor)),
    storage_(std::move(storage)),
    loop_(loop),
    waiters_(waiters) {}

void event_router::route(const std::vector<store_event>& events) {
  for (const auto& e : events) {
    switch (e.kind) {
      case store_event::type::work_ready:
        // Without an execution id: leases handed back (release_leases).
        if (e.execution_id.empty())
          loop_.take_over_next();
        loop_.on_ready(e.at);
        break;
      case store_event::type::finished:
        if (!e.parent_id.empty())
          if (auto* x = loop_.find(e.parent_id))
            self_->send(x->actor, child_done_atom::value, e.execution_id,
                        finished_row{e.row});
        waiters_.finished(e.execution_id, e.row);
        break;
      case store_event::type::cancelled:
        if (e.owner == rt_->incarnation)
          if (auto* x = loop_.find(e.execution_id))
            self_->send(x->actor, cancel_atom::value);
        break;
      case store_event::type::deadline:
        self_->send(janitor_, deadline_atom::value, e.at);
        break;
      case store_event::type::resync:
        resync();
        break;
      case store_event::type::corrupt: // the engine's listener reports it
        break;
    }
  }
}

void event_router::resync() {
  loop_.take_over_next();
  loop_.claim();
  for (auto& [id, x] : loop_.live())
    self_->send(x.actor, resync_atom::value);
  self_->send(janitor_, expire_atom::value);
  waiters_.resync();
}

void event_router::renewed(const std::vector<std::string>& renewed,
                           std::int64_t started, std::int64_t floor_us) {
  // Each row the renewal found is ours until at least its floor.
  const auto floor = from_micros(floor_us);
  std::unordered_set<std::string> ours;
  ours.reserve(renewed.size());
  for (const auto& id : renewed) {
    ours.insert(id);
    if (auto* x = loop_.find(id))
      x->lease->confirm(floor);
  }
  // A row claimed before the renewal started that it did not renew is no
  // longer ours: our lease expired and another node claimed it (or it
  // finished and its actor is about to end). Stop the body now rather than
  // at its next write.
  for (auto& [id, x] : loop_.live())
    if (x.claimed_at < started && !ours.contains(id)) {
      loop_.count_lost_lease();
      self_->send(x.actor, lost_atom::value);
    }
  sweep_orphans(renewed);
}

void event_router::handed_back() {
  loop_.take_over_next();
  loop_.claim();
}

// Every row a node owns must be run by one of its actors or given back:
// the lease keeper renews all of them, so a row whose actor never started
// (a claim or an insert whose reply was lost, a commit in doubt that did
// happen) would otherwise stay owned and unfinished until the node stops.
// A row is handed back when two renewals in a row found it without an
// actor (one could be a claim whose reply is still on its way), so within
// two renewal intervals.
void event_router::sweep_orphans(const std::vector<std::string>& renewed) {
  std::unordered_set<std::string> suspects;
  std::vector<std::string> orphans;
  for (const auto& id : renewed) {
    if (loop_.find(id))
      continue;
    if (orphan_suspects_.contains(id))
      orphans.push_back(id);
    else
      suspects.insert(id);
  }
  orphan_suspects_ = std::move(suspects);
  if (orphans.empty())
    return;
  self_
    ->request(storage_, caf::infinite, handback_atom::value, std::move(orphans))
    .then(
      [this](std::size_t handed_back) {
        orphans_handed_back_ += handed_back;
        if (handed_back > 0) {
          loop_.take_over_next();
          loop_.claim();
        }
      },
      [](caf::error&) {}); // the next renewal finds them again
}

} // namespace durable::actors
