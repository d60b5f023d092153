#include "durable/actors/sibling_ends.hpp"

#include <algorithm>

namespace durable::actors {

namespace {

/// The parent a finished ordinary child (not a finalize task) reports to.
const std::string* ended_childs_parent(const transition& t) {
  const auto& r = t.next;
  if (!r.parent || r.parent->is_finalize || !r.is_finished())
    return nullptr;
  return &r.parent->execution_id;
}

} // namespace

sibling_ends::pending
sibling_ends::read(const std::vector<transition>& batch) const {
  pending p;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& t = batch[i];
    if (const auto* parent = ended_childs_parent(t))
      p.child_ends.emplace_back(i, *parent);
    if (t.next.is_finished() && !entries_.empty())
      p.parent_ends.emplace_back(i, t.next.id);
    if (t.children.size() < 2)
      continue;
    const auto mine = std::count_if(
      t.children.begin(), t.children.end(), [&](const execution_record& c) {
        return c.status == execution_status::running && c.owner == owner_;
      });
    if (mine >= 2)
      p.opens.push_back({i, t.next.id, static_cast<int>(mine)});
  }
  return p;
}

void sibling_ends::apply(const pending& p,
                         const std::vector<write_outcome>& outcomes,
                         std::int64_t now) {
  auto applied = [&](std::size_t i) {
    return i < outcomes.size() && outcomes[i].status == write_status::applied;
  };
  for (const auto& [i, parent] : p.child_ends) {
    if (!applied(i))
      continue;
    auto it = entries_.find(parent);
    if (it != entries_.end() && --it->second.expected <= 0)
      entries_.erase(it);
  }
  for (const auto& [i, id] : p.parent_ends)
    if (applied(i))
      entries_.erase(id);
  for (const auto& o : p.opens)
    if (applied(o.index) && make_room(now))
      entries_[o.parent_id] = {o.children, now};
}

bool sibling_ends::awaits_more(const std::vector<transition>& batch,
                               std::int64_t now) const {
  if (entries_.empty())
    return false;
  // Batches that are held are small (the storage actor's rule), so a
  // count per parent by scanning the batch again is cheap.
  for (const auto& t : batch) {
    const auto* parent = ended_childs_parent(t);
    if (!parent)
      continue;
    auto it = entries_.find(*parent);
    if (it == entries_.end() || now - it->second.opened_at > fresh_for)
      continue;
    const auto in_batch = std::count_if(
      batch.begin(), batch.end(), [&](const transition& u) {
        const auto* p = ended_childs_parent(u);
        return p && *p == *parent;
      });
    if (in_batch < it->second.expected)
      return true;
  }
  return false;
}

bool sibling_ends::make_room(std::int64_t now) {
  if (entries_.size() < max_entries)
    return true;
  std::erase_if(entries_, [now](const auto& kv) {
    return now - kv.second.opened_at > fresh_for;
  });
  return entries_.size() < max_entries;
}

} // namespace durable::actors
