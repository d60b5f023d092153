#include "durable/actors/dispatcher_waiters.hpp"

#include <caf/all.hpp>

#include "durable/actors/messages.hpp"
#include "durable/actors/requests.hpp"
#include "durable/actors/wire_errors.hpp"

namespace durable::actors {

namespace {

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
      rp.deliver(
        caf::make_error(caf::sec::runtime_error, std::move(end.message)));
      break;
  }
}

} // namespace

dispatcher_waiters::dispatcher_waiters(caf::event_based_actor* self,
                                       runtime_ptr rt, caf::actor storage)
  : self_(self),
    rt_(std::move(rt)),
    storage_(std::move(storage)),
    // A timed wait is dropped by its timer, so waits that give up never
    // pile up; one that ends otherwise cancels its timer.
    registry_([rt = rt_](std::uint64_t timer) { rt->cancel_timer(timer); }) {}

caf::response_promise
dispatcher_waiters::watch(const std::string& id,
                          std::optional<caf::timespan> timeout) {
  auto rp = self_->make_response_promise();
  auto seq = registry_.add(id, [rp, id](wait_end end) mutable {
    answer_waiter(rp, id, std::move(end));
  });
  if (timeout)
    registry_.set_timer(
      id, seq,
      rt_->set_timer(caf::actor_cast<caf::actor>(self_), *timeout,
                     caf::make_message(unwatch_atom::value, id, seq)));
  if (registry_.arm_recheck())
    arm_recheck_timer();
  self_->request(storage_, caf::infinite, watch_atom::value, id)
    .then([this, id](maybe_record& r) { registry_.resolve(id, r.record); },
          [this, id](caf::error& err) {
            registry_.fail(id, self_->system().render(err));
          });
  return rp;
}

void dispatcher_waiters::expire(const std::string& id, std::uint64_t seq) {
  registry_.expire(id, seq);
}

void dispatcher_waiters::arm_recheck_timer() {
  rt_->set_timer(
    caf::actor_cast<caf::actor>(self_),
    std::chrono::duration_cast<caf::timespan>(rt_->options.poll_interval),
    caf::make_message(recheck_atom::value));
}

// An end whose announcement never came (a store that does not hear other
// nodes, a lost NOTIFY) still ends its waits: each tick reads a batch of
// watched rows, and ticks come every poll_interval while anyone waits.
void dispatcher_waiters::recheck() {
  auto plan = registry_.recheck_tick();
  if (plan.again)
    arm_recheck_timer();
  if (plan.ids.empty())
    return;
  auto ids = plan.ids;
  self_
    ->request(storage_, caf::infinite, fetch_atom::value, std::move(plan.ids))
    .then(
      [this, ids](std::vector<maybe_record>& rows) {
        registry_.recheck_done();
        for (std::size_t i = 0; i < ids.size() && i < rows.size(); ++i)
          registry_.resolve(ids[i], rows[i].record);
      },
      // The store is unavailable: the next tick tries again.
      [this](caf::error&) { registry_.recheck_done(); });
}

void dispatcher_waiters::finished(
  const std::string& id, const std::shared_ptr<const execution_record>& row) {
  if (!registry_.watches(id))
    return;
  if (row)
    registry_.resolve(id, *row);
  else
    fetch(id);
}

void dispatcher_waiters::resync() {
  for (auto& id : registry_.watched_ids())
    fetch(id);
}

void dispatcher_waiters::shut_down() {
  registry_.shut_down();
}

void dispatcher_waiters::fetch(const std::string& id) {
  self_->request(storage_, caf::infinite, fetch_atom::value, id)
    .then([this, id](maybe_record& r) { registry_.resolve(id, r.record); },
          [](caf::error&) {});
}

} // namespace durable::actors
