#include "durable/actors/claim_loop.hpp"

#include <algorithm>

#include <caf/all.hpp>

#include "durable/actors/execution_actor.hpp"
#include "durable/actors/new_row_router.hpp"

namespace durable::actors {

claim_loop::claim_loop(caf::event_based_actor* self, runtime_ptr rt,
                       caf::actor claimer)
  : self_(self),
    rt_(std::move(rt)),
    claimer_(std::move(claimer)),
    slots_(rt_->options.max_concurrent,
           rt_->options.worker_threads + rt_->options.max_queued_blocking) {}

// -- claims -------------------------------------------------------------------

void claim_loop::claim() {
  if (draining_ || !rt_->options.run_tasks)
    return;
  if (claiming_) {
    rerun_ = true;
    return;
  }
  const auto& opts = rt_->options;
  const auto free = slots_.free();
  if (free == 0) {
    backlog_ = true;
    update_hint();
    return;
  }
  kinds_.refresh(*rt_->tasks);
  if (kinds_.all().empty())
    return;
  auto plan = rounds_.next(kinds_, free, opts.claim_batch_size,
                           slots_.blocking_room());
  blocking_waits_ = plan.blocking_waits;
  if (!plan.claim) {
    update_hint();
    return;
  }
  // A take-over covers both halves of a round.
  const bool take_over = take_over_;
  claim_request req{rt_->incarnation, opts.lease_duration, plan.limit,
                    *plan.task_ids, take_over};
  if (take_over)
    took_over_at_ = rt_->now();
  take_over_ = take_over && rounds_.second_kind_due();
  claiming_ = true;
  slots_.begin_claim(plan.limit, plan.blocking);
  // The second claim of a round keeps what the first found: work left
  // behind holds for the round. So does a rerun: the second claim covers
  // only the other kind of task, and new work of the first kind that came
  // while the first claim was in flight needs a round of its own.
  if (plan.round_start) {
    backlog_ = false;
    rerun_ = false;
  }
  update_hint();
  ++claims_;
  const auto limit = plan.limit;
  self_->request(claimer_, caf::infinite, claim_atom::value, std::move(req))
    .then(
      [this, limit](claim_result& res) {
        claiming_ = false;
        slots_.end_claim();
        claimed_ += res.claimed.size();
        const auto at = steady_nanos();
        for (auto& row : res.claimed)
          start_claimed(std::move(row), at);
        if (res.claimed.size() >= limit)
          backlog_ = true;
        if (res.next_ready_at && *res.next_ready_at <= rt_->now()
            && !backlog_) {
          retry_skipped();
        } else {
          skipped_in_a_row_ = 0;
          if (res.next_ready_at)
            schedule_wake(*res.next_ready_at);
        }
        check_drained();
        if (backlog_ || rerun_ || rounds_.second_kind_due())
          claim();
        update_hint();
      },
      [this](caf::error&) {
        // The store is unavailable: the poll tries again.
        claiming_ = false;
        slots_.end_claim();
        check_drained();
        update_hint();
      });
}

/// Whether a poll should look for expired leases again. In memory and
/// SQLite the scan reads every active row of the node's tasks (PostgreSQL
/// gates it with a lease floor per owner, migration 6; before that, on
/// every 500 ms poll it was the costliest statement of a busy node). A
/// lease that ran out is found within one renewal interval of its expiry
/// instead of one poll interval.
bool claim_loop::take_over_due() const {
  return !took_over_at_
         || rt_->now() - *took_over_at_ >= rt_->options.lease_renew_interval;
}

void claim_loop::poll() {
  if (take_over_due())
    take_over_ = true;
  claim();
  if (!draining_)
    rt_->set_timer(
      caf::actor_cast<caf::actor>(self_),
      std::chrono::duration_cast<caf::timespan>(rt_->options.poll_interval),
      caf::make_message(poll_atom::value));
}

void claim_loop::schedule_wake(timestamp at) {
  if (wake_at_ && *wake_at_ <= at)
    return;
  wake_at_ = at;
  rt_->set_timer(caf::actor_cast<caf::actor>(self_), rt_->delay_until(at),
                 caf::make_message(rerun_atom::value));
}

void claim_loop::retry_skipped() {
  // The usual holder is a waiter marking a new row `watched`, for one
  // short commit (it does not wait for the disk): retried every
  // millisecond, the row starts soon after the lock goes. A row held
  // longer (a long transaction of someone else's) backs off.
  constexpr unsigned quick_retries = 16;
  constexpr unsigned max_doublings = 16;
  const unsigned doublings = skipped_in_a_row_ < quick_retries
                               ? 0
                               : std::min(skipped_in_a_row_ - quick_retries + 1,
                                          max_doublings);
  const auto gap = std::min<std::chrono::microseconds>(
    std::chrono::microseconds{std::int64_t{1000} << doublings},
    rt_->options.poll_interval);
  ++skipped_in_a_row_;
  schedule_wake(rt_->now() + gap);
}

void claim_loop::on_ready(timestamp at) {
  if (at <= rt_->now())
    claim();
  else
    schedule_wake(at);
}

void claim_loop::wake() {
  wake_at_.reset();
  claim();
}

// -- execution actors ---------------------------------------------------------

// Two bodies of one execution must never run at once, and a claim may take
// a row whose actor still runs here: this node's own lease ran out (a
// commit that outlasted it, renewals that failed) and the take-over found
// it. Nothing that actor writes can apply any more (the claim moved the
// version): it is told so (`reclaimed`) and ends, once its body returned if
// one runs; the claimed row waits for it (`reclaimed_`) and starts only
// then, so its body runs after the other one, never beside it.
//
// `lease` is what this node knew of the row's lease before (its last
// actor's): renewals that found the row confirmed it whichever actor ran.
void claim_loop::start_claimed(execution_record row, std::int64_t at,
                               row_lease_ptr lease) {
  auto [i, fresh] = live_.try_emplace(row.id);
  if (!fresh) {
    self_->send(i->second.actor, reclaimed_atom::value);
    reclaimed_.insert_or_assign(row.id, std::move(row));
    return;
  }
  // Whether the body of the row will need a worker thread: a running task
  // or parent of a blocking task.
  const bool blocking = takes_slot(row) && kinds_.is_blocking(row.task_id);
  if (takes_slot(row))
    slots_.hold(blocking);
  if (!lease)
    lease = caf::make_counted<row_lease>(row.lease_expires_at);
  else if (row.lease_expires_at)
    lease->confirm(*row.lease_expires_at);
  auto actor = spawn_execution(self_, rt_, std::move(row), lease);
  i->second = {std::move(actor), at, std::move(lease), blocking};
}

live_execution* claim_loop::find(const std::string& id) {
  auto i = live_.find(id);
  return i == live_.end() ? nullptr : &i->second;
}

void claim_loop::free_slot(bool blocking) {
  slots_.release(blocking);
  check_drained();
  if (backlog_ || (blocking && blocking_waits_))
    claim();
  update_hint();
}

void claim_loop::free_slot_of(live_execution* x) {
  bool blocking = false;
  if (x && x->blocking_slot) {
    blocking = true;
    x->blocking_slot = false;
  }
  free_slot(blocking);
}

void claim_loop::gone(const std::string& id, const caf::actor_addr& addr,
                      bool slot_freed) {
  auto i = live_.find(id);
  const bool mine = i != live_.end() && i->second.actor.address() == addr;
  if (slot_freed)
    free_slot_of(mine ? &i->second : nullptr);
  if (!mine)
    return;
  auto lease = std::move(i->second.lease);
  live_.erase(i);
  if (auto r = reclaimed_.find(id); r != reclaimed_.end()) {
    auto row = std::move(r->second);
    reclaimed_.erase(r);
    start_claimed(std::move(row), steady_nanos(), std::move(lease));
  }
}

void claim_loop::stop_all(const caf::error& reason) {
  for (auto& [id, x] : live_)
    self_->send_exit(x.actor, reason);
  live_.clear();
}

// -- rows taken on insert -----------------------------------------------------

std::size_t claim_loop::spare_slots() const noexcept {
  if (!rt_->options.run_tasks || draining_)
    return 0;
  const auto free = slots_.free();
  if (!backlog_)
    return free;
  const auto batch = rt_->options.claim_batch_size;
  return free > batch ? free - batch : 0;
}

const task_kinds& claim_loop::kinds() {
  kinds_.refresh(*rt_->tasks);
  return kinds_;
}

void claim_loop::after_adopt() {
  check_drained();
  if (backlog_)
    claim();
  update_hint();
}

void claim_loop::update_hint() {
  rt_->local_claims.store(router_ && router_->takes_new_rows(spare_slots()),
                          std::memory_order_relaxed);
}

// -- drain and counters -------------------------------------------------------

caf::response_promise claim_loop::drain() {
  draining_ = true;
  update_hint();
  auto rp = self_->make_response_promise();
  drained_.push_back(rp);
  check_drained();
  return rp;
}

void claim_loop::check_drained() {
  if (draining_ && slots_.idle() && !claiming_) {
    for (auto& rp : drained_)
      rp.deliver(true);
    drained_.clear();
  }
}

engine_stats claim_loop::stats(std::size_t waiters) const {
  return engine_stats{slots_.running(), live_.size(), claimed_,
                      claims_,          leases_lost_, waiters};
}

} // namespace durable::actors
