#include "durable/actors/local_take.hpp"

#include "durable/actors/claim_slots.hpp"
#include "durable/store_rules.hpp"

namespace durable::actors {

local_claims pick_local_claims(std::vector<execution_record>& rows,
                               const task_kinds& kinds,
                               const take_limits& limits) {
  local_claims out;
  auto blocking_room = limits.blocking_room;
  for (std::size_t i = 0; i < rows.size() && out.rows.size() < limits.room;
       ++i) {
    auto& r = rows[i];
    if (r.status != execution_status::ready
        || !store_rules::is_claimable(r, limits.now) || !kinds.runs(r.task_id))
      continue;
    const bool blocking = kinds.is_blocking(r.task_id);
    if (blocking && blocking_room == 0)
      continue;
    store_rules::claim(r, limits.now, limits.owner, limits.lease);
    out.positions.push_back(i);
    out.rows.push_back(r);
    if (blocking) {
      --blocking_room;
      ++out.blocking;
    }
  }
  return out;
}

} // namespace durable::actors
