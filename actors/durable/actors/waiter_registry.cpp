#include "durable/actors/waiter_registry.hpp"

#include <algorithm>
#include <cassert>

namespace durable::actors {

std::uint64_t waiter_registry::add(const std::string& id, deliver_fn deliver) {
  auto [i, inserted] = by_id_.try_emplace(id);
  if (inserted)
    // New ids are read soonest: a wait that begins just after its
    // execution's announcement was lost should not queue behind old ones.
    i->second.pos = order_.insert(order_.begin(), id);
  const auto seq = next_seq_++;
  i->second.waiters.push_back({seq, 0, std::move(deliver)});
  ++waiters_;
  return seq;
}

void waiter_registry::set_timer(const std::string& id, std::uint64_t seq,
                                std::uint64_t timer) {
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return;
  for (auto& w : i->second.waiters)
    if (w.seq == seq)
      w.timer = timer;
}

std::size_t
waiter_registry::resolve(const std::string& id,
                         const std::optional<execution_record>& row) {
  auto i = by_id_.find(id);
  if (i == by_id_.end() || (row && !row->is_finished()))
    return 0;
  if (row)
    return end_all(i, {wait_end::kind::finished, row, {}});
  return end_all(i, {wait_end::kind::not_found, std::nullopt, {}});
}

bool waiter_registry::expire(const std::string& id, std::uint64_t seq) {
  // Its timer is what fired: nothing to cancel.
  return end_one(id, seq, wait_end{wait_end::kind::timed_out, {}, {}}, false);
}

bool waiter_registry::remove(const std::string& id, std::uint64_t seq) {
  return end_one(id, seq, std::nullopt, true);
}

std::size_t waiter_registry::fail(const std::string& id,
                                  const std::string& message) {
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return 0;
  return end_all(i, {wait_end::kind::failed, std::nullopt, message});
}

std::size_t waiter_registry::shut_down() {
  std::size_t n = 0;
  while (!by_id_.empty())
    n += end_all(by_id_.begin(), {wait_end::kind::shut_down, {}, {}});
  return n;
}

bool waiter_registry::arm_recheck() {
  if (armed_ || empty())
    return false;
  armed_ = true;
  return true;
}

waiter_registry::recheck_plan waiter_registry::recheck_tick(std::size_t limit) {
  recheck_plan plan;
  armed_ = !empty();
  plan.again = armed_;
  if (!armed_ || rereading_)
    return plan;
  const auto n = std::min(std::max(limit, std::size_t{1}), order_.size());
  plan.ids.reserve(n);
  for (std::size_t k = 0; k < n; ++k) {
    // Front to back: the front was read longest ago (or never).
    auto it = order_.begin();
    plan.ids.push_back(*it);
    order_.splice(order_.end(), order_, it);
  }
  rereading_ = true;
  return plan;
}

std::vector<std::string> waiter_registry::watched_ids() const {
  return {order_.begin(), order_.end()};
}

std::size_t waiter_registry::end_all(map_type::iterator i,
                                     const wait_end& end) {
  // Taken out first: a deliver function may not see a half-ended entry.
  auto ws = std::move(i->second.waiters);
  i->second.waiters.clear();
  erase_entry(i);
  waiters_ -= ws.size();
  for (auto& w : ws) {
    if (w.timer != 0 && cancel_timer_)
      cancel_timer_(w.timer);
    w.deliver(end);
  }
  return ws.size();
}

bool waiter_registry::end_one(const std::string& id, std::uint64_t seq,
                              std::optional<wait_end> end, bool cancel) {
  auto i = by_id_.find(id);
  if (i == by_id_.end())
    return false;
  auto& ws = i->second.waiters;
  auto w = std::find_if(ws.begin(), ws.end(),
                        [seq](const waiter& x) { return x.seq == seq; });
  if (w == ws.end())
    return false;
  auto gone = std::move(*w);
  ws.erase(w);
  --waiters_;
  if (ws.empty())
    erase_entry(i);
  if (cancel && gone.timer != 0 && cancel_timer_)
    cancel_timer_(gone.timer);
  if (end)
    gone.deliver(std::move(*end));
  return true;
}

void waiter_registry::erase_entry(map_type::iterator i) {
  assert(i->second.waiters.empty());
  order_.erase(i->second.pos);
  by_id_.erase(i);
}

} // namespace durable::actors
