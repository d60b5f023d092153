#include "durable/storage/pg/owner_floors.hpp"

#include <algorithm>
#include <limits>

#include "durable/store_rules.hpp"
#include "durable/time.hpp"

namespace durable::storage::pg {

void owner_floors::add(const execution_record& r, bool owner_only,
                       std::int64_t now_us, floors& out) const {
  if (!r.owner || !store_rules::takes_lease(r))
    return;
  // No lease at all: claimable at once (store_rules::is_claimable).
  const auto at = r.lease_expires_at ? to_micros(*r.lease_expires_at)
                                     : std::numeric_limits<std::int64_t>::min();
  if (auto k = known_.find(*r.owner);
      k != known_.end() && k->second.learned_us >= now_us - trusted_for_us_
      && (owner_only || at >= k->second.at))
    return;
  auto [it, fresh] = out.try_emplace(*r.owner, at);
  if (!fresh)
    it->second = std::min(it->second, at);
}

std::vector<owner_floors::floor> owner_floors::sorted(floors f) {
  std::vector<floor> out;
  out.reserve(f.size());
  for (auto& [owner, at] : f)
    out.push_back({owner, at});
  std::sort(out.begin(), out.end(),
            [](const floor& x, const floor& y) { return x.owner < y.owner; });
  return out;
}

std::vector<owner_floors::floor>
owner_floors::needed(const std::vector<execution_record>& rows,
                     std::int64_t now_us) const {
  floors out;
  std::lock_guard guard{mutex_};
  for (const auto& r : rows)
    add(r, false, now_us, out);
  return sorted(std::move(out));
}

std::vector<owner_floors::floor>
owner_floors::needed(const std::vector<transition>& ts,
                     std::int64_t now_us) const {
  floors out;
  std::lock_guard guard{mutex_};
  for (const auto& t : ts) {
    add(t.next, true, now_us, out);
    for (const auto& kid : t.children)
      add(kid, false, now_us, out);
  }
  return sorted(std::move(out));
}

void owner_floors::remember(const std::string& owner, std::int64_t at,
                            std::int64_t now_us) {
  std::lock_guard guard{mutex_};
  // Keep the higher value. Writes through this store that raise a floor
  // remember what they wrote, and the others only lower it, so the higher
  // value is still at or above the stored floor.
  auto [it, fresh] = known_.try_emplace(owner, known_floor{at, now_us});
  if (!fresh) {
    it->second.at = std::max(it->second.at, at);
    it->second.learned_us = std::max(it->second.learned_us, now_us);
  }
}

void owner_floors::forget(const std::string& owner) {
  std::lock_guard guard{mutex_};
  known_.erase(owner);
}

} // namespace durable::storage::pg
