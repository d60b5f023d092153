#include "durable/storage/memory_store.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::storage {

namespace {

using store_rules::is_live_sleeper;
using store_rules::parent_id_of;
using store_rules::takes_lease;

timestamp lease_key(const execution_record& r) noexcept {
  // No lease at all means claimable at once: order it first.
  return r.lease_expires_at.value_or(timestamp::min());
}

} // namespace

// -- constructors, destructors, and assignment operators ----------------------

memory_store::memory_store(std::function<timestamp()> clock)
  : clock_(std::move(clock)) {}

memory_store::~memory_store() = default;

// -- properties ---------------------------------------------------------------

void memory_store::set_clock(std::function<timestamp()> clock) {
  std::lock_guard guard{clock_mutex_};
  clock_ = std::move(clock);
}

std::size_t memory_store::size() {
  std::lock_guard guard{mutex_};
  return rows_.size();
}

timestamp memory_store::now() {
  // Not under mutex_: engines ask for the time all the time, and must not
  // wait for a long write to finish to get it.
  return read_clock();
}

timestamp memory_store::read_clock() {
  std::lock_guard guard{clock_mutex_};
  return clock_();
}

// -- writes -------------------------------------------------------------------

std::vector<insert_outcome>
memory_store::insert(std::vector<execution_record> rows) {
  // Most rows are stored: their outcomes (and the copies of their ids)
  // are made before taking the lock, which then only corrects the others.
  // Rows with a number out of range are refused here already.
  std::vector<insert_outcome> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    if (auto refused = stored_ranges::refused_insert(r))
      out.push_back(std::move(*refused));
    else
      out.push_back({insert_outcome::kind::inserted, r.id});
  }
  std::vector<store_event> events;
  const bool want = !listeners_.empty();
  row_room room;
  {
    std::lock_guard guard{mutex_};
    const auto now = read_clock();
    const execution_record* earliest = nullptr;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (out[i].result == insert_outcome::kind::refused)
        continue;
      if (auto bad = check_new_row(rows[i])) {
        out[i] = std::move(*bad);
        continue;
      }
      store_rules::lease_from_write(rows[i], now);
      // A taken id is found by storing the row (one probe, not two).
      auto [row, fresh] = rows_.insert(std::move(rows[i]));
      if (!fresh) {
        out[i].result = insert_outcome::kind::duplicate_id;
        continue;
      }
      index_identity(*row);
      index_state(*row);
      const auto& stored = *row;
      if (!want)
        continue;
      if (stored.status == execution_status::ready
          && (!earliest || stored.start_at < earliest->start_at))
        earliest = &stored;
      if (stored.is_sleeping())
        events.push_back({store_event::type::deadline,
                          stored.id,
                          {},
                          {},
                          stored.expires_at.value_or(stored.start_at)});
    }
    if (earliest)
      events.push_back({store_event::type::work_ready,
                        earliest->id,
                        {},
                        {},
                        earliest->start_at});
    room = {rows_.spare_rows(), rows_.next_chunk_bytes()};
  }
  notify(std::move(events));
  // Expect the next insert to be as large as this one.
  stock_rows(rows.size(), room);
  return out;
}

std::vector<write_outcome> memory_store::apply(std::vector<transition> ts) {
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  std::vector<store_event> events;
  const bool want = !listeners_.empty();
  std::size_t children = 0;
  row_room room;
  // Numbers out of range are found before taking the lock (a pure
  // function of the transition); such a transition is refused.
  std::vector<std::string> refusals;
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (auto reason = stored_ranges::refused_write(ts[i])) {
      refusals.resize(ts.size());
      refusals[i] = std::move(*reason);
    }
  {
    std::lock_guard guard{mutex_};
    const auto now = read_clock();
    batch_keys seen;
    std::vector<execution_record*> kids;
    std::vector<store_event> cascaded;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      auto& t = ts[i];
      children += t.children.size();
      auto* found = rows_.find(t.next.id);
      if (!refusals.empty()) {
        auto& reason = refusals[i];
        if (!reason.empty()) {
          out.push_back({write_status::refused,
                         found ? std::optional{*found} : std::nullopt,
                         std::move(reason)});
          continue;
        }
      }
      if (!found) {
        out.push_back({write_status::not_found, std::nullopt});
        continue;
      }
      auto& row = *found;
      if (row.version != t.expected_version) {
        out.push_back({write_status::conflict, row});
        continue;
      }
      if (children_clash(t, seen)) {
        out.push_back({write_status::rejected, row});
        continue;
      }
      // A renewal may have moved the lease since the writer read the row:
      // a transition that keeps the owner never moves the lease back.
      if (t.next.owner && t.next.owner == row.owner && row.lease_expires_at
          && (!t.next.lease_expires_at
              || *t.next.lease_expires_at < *row.lease_expires_at))
        t.next.lease_expires_at = row.lease_expires_at;
      std::optional<std::string> prev_owner;
      if (want && t.next.status == execution_status::cancelled)
        prev_owner = row.owner;
      const bool identity_changed = row.sleeping_id != t.next.sleeping_id
                                    || row.idempotency_key
                                         != t.next.idempotency_key
                                    || row.parent != t.next.parent;
      unindex_state(row);
      if (identity_changed)
        unindex_identity(row);
      t.next.version = t.expected_version + 1;
      t.next.watched = row.watched;
      // Copied into the stored row, whose strings have the capacity of the
      // same values already (no allocation, nothing freed under the lock);
      // `next` itself then becomes the outcome without a copy.
      row = t.next;
      if (identity_changed)
        index_identity(row);
      index_state(row);
      kids.clear();
      for (auto& child : t.children) {
        store_rules::lease_from_write(child, now);
        kids.push_back(&put_row(std::move(child)));
      }
      cascaded.clear();
      if (t.cancel_descendants)
        cascade(row, now, want ? &cascaded : nullptr);
      out.push_back({write_status::applied, std::move(t.next)});
      if (!want)
        continue;
      // Events describe the state after the whole transition, cascade
      // included, so a child the cascade cancelled is not announced ready.
      if (row.is_finished() && (row.parent || row.watched))
        events.push_back({store_event::type::finished,
                          row.id,
                          parent_id_of(row),
                          {},
                          row.finished_at.value_or(now),
                          std::make_shared<const execution_record>(row)});
      const execution_record* earliest = nullptr;
      if (row.status == execution_status::ready)
        earliest = &row;
      for (auto* kid : kids)
        if (kid->status == execution_status::ready
            && (!earliest || kid->start_at < earliest->start_at))
          earliest = kid;
      if (earliest)
        events.push_back({store_event::type::work_ready,
                          earliest->id,
                          {},
                          {},
                          earliest->start_at});
      for (auto* kid : kids)
        if (is_live_sleeper(*kid))
          events.push_back(
            {store_event::type::deadline, kid->id, {}, {}, *kid->expires_at});
      if (row.status == execution_status::cancelled && prev_owner)
        events.push_back({store_event::type::cancelled,
                          row.id,
                          {},
                          std::move(*prev_owner),
                          now});
      std::move(cascaded.begin(), cascaded.end(), std::back_inserter(events));
    }
    if (children > 0)
      room = {rows_.spare_rows(), rows_.next_chunk_bytes()};
  }
  notify(std::move(events));
  stock_rows(children, room);
  return out;
}

claim_result memory_store::claim(const claim_request& req) {
  claim_result res;
  std::lock_guard guard{mutex_};
  const auto now = read_clock();
  // Claim oldest first across every requested task: merge the ready and
  // leased indexes of each task, each already ordered by its due time.
  struct stream {
    ordered_index::iterator pos;
    ordered_index::iterator end;
  };
  std::vector<stream> streams;
  std::vector<const ordered_index*> ready_sets;
  std::vector<std::string_view> tasks(req.task_ids.begin(), req.task_ids.end());
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  for (auto task : tasks) {
    // The maps are keyed by std::string; one allocation per task is cheap.
    std::string key{task};
    if (auto i = ready_.find(key); i != ready_.end()) {
      streams.push_back({i->second.begin(), i->second.end()});
      ready_sets.push_back(&i->second);
    }
    if (!req.take_over)
      continue;
    if (auto i = leased_.find(key); i != leased_.end())
      streams.push_back({i->second.begin(), i->second.end()});
  }
  // Pick first, then write: a zero lease would otherwise put a claimed row
  // back in front of the merge.
  std::vector<execution_record*> picked;
  const entry_less less;
  while (picked.size() < req.limit) {
    stream* best = nullptr;
    for (auto& s : streams)
      if (s.pos != s.end && s.pos->at <= now
          && (!best || less(*s.pos, *best->pos)))
        best = &s;
    if (!best)
      break;
    picked.push_back(best->pos->row);
    ++best->pos;
  }
  res.claimed.reserve(picked.size());
  for (auto* r : picked) {
    unindex_state(*r);
    if (store_rules::claim(*r, now, req.owner, req.lease))
      res.taken_over.push_back(res.claimed.size());
    index_state(*r);
    res.claimed.push_back(*r);
  }
  for (auto* set : ready_sets)
    if (auto i = set->upper_bound(now); i != set->end())
      if (!res.next_ready_at || i->at < *res.next_ready_at)
        res.next_ready_at = i->at;
  return res;
}

std::vector<std::string> memory_store::renew_leases(const std::string& owner,
                                                    millis lease) {
  std::lock_guard guard{mutex_};
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end())
    return {};
  std::vector<std::string> renewed;
  renewed.reserve(it->second.size());
  const auto now = read_clock();
  const auto until = now + lease;
  // Only the lease index moves: the owner and the version stay.
  for (auto* r : it->second) {
    if (!store_rules::renewal_due(*r, now, lease)) {
      renewed.push_back(r->id);
      continue;
    }
    if (takes_lease(*r)) {
      auto& index = leased_[r->task_id];
      index.erase(entry{lease_key(*r), r});
      r->lease_expires_at = until;
      index.insert(entry{until, r});
    } else {
      r->lease_expires_at = until;
    }
    renewed.push_back(r->id);
  }
  return renewed;
}

bool memory_store::try_lead(const std::string& role, const std::string& owner,
                            millis lease) {
  std::lock_guard guard{mutex_};
  const auto now = read_clock();
  auto& holder = leaders_[role];
  if (!holder.owner.empty() && holder.owner != owner && holder.until > now)
    return false;
  holder = {owner, now + lease};
  return true;
}

void memory_store::report_node(const node_report& r) {
  validate(r);
  std::lock_guard guard{mutex_};
  const auto now = read_clock();
  auto& n = nodes_[r.node.incarnation];
  n = r.node;
  n.heartbeat_at = now;
  const auto minute = minute_of(now);
  for (const auto& [status, count] : r.finished)
    if (count > 0)
      finished_[{minute, status}] += count;
  const auto horizon = now - node_registry_keep;
  std::erase_if(nodes_, [&](const auto& kv) {
    return kv.second.heartbeat_at < horizon;
  });
  finished_.erase(
    finished_.begin(),
    finished_.lower_bound({minute_of(horizon), execution_status::ready}));
}

std::vector<node_info> memory_store::nodes() {
  std::vector<node_info> out;
  {
    std::lock_guard guard{mutex_};
    for (const auto& [incarnation, n] : nodes_)
      out.push_back(n);
  }
  std::sort(out.begin(), out.end(), registry_order);
  return out;
}

std::vector<finished_count> memory_store::finished_by_minute(timestamp from,
                                                             timestamp to) {
  std::vector<finished_count> out;
  std::lock_guard guard{mutex_};
  for (auto it = finished_.lower_bound({from, execution_status::ready});
       it != finished_.end() && it->first.first < to; ++it)
    out.push_back({it->first.first, it->first.second, it->second});
  return out;
}

std::size_t memory_store::release_leases(const std::string& owner) {
  std::lock_guard guard{mutex_};
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end())
    return 0;
  const auto now = read_clock();
  auto held = std::move(it->second);
  by_owner_.erase(it);
  // Clearing the owner (without a version bump, like an expiry) is what
  // tells the next claim that this was a hand-over, not a recovery.
  for (auto* r : held) {
    if (takes_lease(*r)) {
      auto& index = leased_[r->task_id];
      index.erase(entry{lease_key(*r), r});
      r->lease_expires_at = now;
      index.insert(entry{now, r});
    } else {
      r->lease_expires_at = now;
    }
    r->owner.reset();
  }
  return held.size();
}

// -- reads --------------------------------------------------------------------

std::optional<execution_record> memory_store::get(const std::string& id) {
  std::lock_guard guard{mutex_};
  if (auto* row = rows_.find(id))
    return *row;
  return std::nullopt;
}

std::optional<execution_record>
memory_store::get_by_sleeping_id(const std::string& sleeping_id) {
  std::lock_guard guard{mutex_};
  if (auto it = by_sleeping_id_.find(sleeping_id); it != by_sleeping_id_.end())
    return *it->second;
  return std::nullopt;
}

std::vector<execution_record>
memory_store::children_of(const std::string& parent_id) {
  std::vector<execution_record> out;
  {
    std::lock_guard guard{mutex_};
    auto it = by_parent_.find(parent_id);
    if (it == by_parent_.end())
      return out;
    out.reserve(it->second.size());
    for (auto* r : it->second)
      out.push_back(*r);
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    auto key = [](const execution_record& r) {
      return std::tie(r.parent->is_finalize, r.parent->index, r.id);
    };
    return key(x) < key(y);
  });
  return out;
}

list_page memory_store::list(const list_request& req) {
  auto after = validate(req);
  std::vector<const execution_record*> hits;
  list_page page;
  std::lock_guard guard{mutex_};
  const bool oldest_first = req.oldest_first;
  auto consider = [&](const execution_record& r) {
    if (matches(req.filter, r)
        && (!after || is_after(*after, r.created_at, r.id, oldest_first)))
      hits.push_back(&r);
  };
  // Children, keys and sleeping ids come from their index; anything else
  // is a scan (this store is for tests and single processes, not for
  // large listings).
  auto by_identity = [&](const by_string<execution_record*>& index,
                         const std::string& value) {
    if (auto it = index.find(value); it != index.end())
      consider(*it->second);
  };
  if (req.filter.idempotency_key) {
    by_identity(by_key_, *req.filter.idempotency_key);
  } else if (req.filter.sleeping_id) {
    by_identity(by_sleeping_id_, *req.filter.sleeping_id);
  } else if (req.filter.parent_id) {
    if (auto it = by_parent_.find(*req.filter.parent_id);
        it != by_parent_.end())
      for (auto* r : it->second)
        consider(*r);
  } else {
    rows_.for_each(consider);
  }
  auto in_order = [oldest_first](const execution_record* x,
                                 const execution_record* y) {
    return oldest_first
             ? std::tie(x->created_at, x->id) < std::tie(y->created_at, y->id)
             : std::tie(x->created_at, x->id) > std::tie(y->created_at, y->id);
  };
  auto n = std::min(hits.size(), req.limit + 1);
  std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n),
                    hits.end(), in_order);
  for (std::size_t i = 0; i < n && i < req.limit; ++i)
    page.rows.push_back(*hits[i]);
  if (n > req.limit)
    page.next_cursor = encode_cursor(
      {page.rows.back().created_at, page.rows.back().id});
  return page;
}

status_counts memory_store::count_by_status(const execution_filter& f) {
  status_counts counts;
  std::lock_guard guard{mutex_};
  rows_.for_each([&](const execution_record& r) {
    if (matches(f, r))
      ++counts[r.status];
  });
  return counts;
}

std::vector<ready_backlog_entry> memory_store::ready_backlog() {
  std::vector<ready_backlog_entry> out;
  std::lock_guard guard{mutex_};
  const auto now = read_clock();
  // Each task's ready rows are ordered by start_at: its first entry is the
  // oldest, and the due ones run up to upper_bound(now).
  for (const auto& [task, index] : ready_) {
    const auto due = std::distance(index.begin(), index.upper_bound(now));
    if (due > 0)
      out.push_back({task, static_cast<std::uint64_t>(due), index.begin()->at});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return x.task_id < y.task_id; });
  return out;
}

sleeper_scan memory_store::scan_sleepers(std::size_t limit) {
  sleeper_scan res;
  std::lock_guard guard{mutex_};
  const auto now = read_clock();
  for (auto it = sleepers_.begin();
       it != sleepers_.end() && it->at <= now && res.expired.size() < limit;
       ++it)
    res.expired.push_back(*it->row);
  if (auto it = sleepers_.upper_bound(now); it != sleepers_.end())
    res.next_deadline = it->at;
  return res;
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> memory_store::watch(const std::string& id) {
  std::lock_guard guard{mutex_};
  auto* row = rows_.find(id);
  if (!row)
    return std::nullopt;
  row->watched = true;
  return *row;
}

bool memory_store::erase(const std::string& id) {
  std::lock_guard guard{mutex_};
  auto* row = rows_.find(id);
  if (!row)
    return false;
  unindex_state(*row);
  unindex_identity(*row);
  return rows_.erase(id);
}

prune_result memory_store::prune(const prune_request& req) {
  durable::validate(req);
  const std::unordered_set<std::string_view> excluded(req.except_tasks.begin(),
                                                      req.except_tasks.end());
  std::lock_guard guard{mutex_};
  // The oldest matching roots over every requested status.
  std::vector<entry> roots;
  for (auto status : req.statuses) {
    auto it = finished_roots_.find(status);
    if (it == finished_roots_.end())
      continue;
    std::size_t taken = 0;
    const auto end = it->second.lower_bound(req.finished_before);
    for (auto e = it->second.begin(); e != end; ++e) {
      if (req.task_id && e->row->task_id != *req.task_id)
        continue;
      if (!excluded.empty() && excluded.contains(e->row->task_id))
        continue;
      roots.push_back(*e);
      if (!req.dry_run && ++taken == req.limit)
        break;
    }
  }
  std::sort(roots.begin(), roots.end(), entry_less{});
  if (!req.dry_run && roots.size() > req.limit)
    roots.resize(req.limit);
  prune_result out;
  std::vector<execution_record*> tree;
  for (const auto& root : roots) {
    // The tree, depth first; `seen` guards against a parent link that
    // loops back (only a corrupt row could make one).
    tree.assign(1, root.row);
    std::unordered_set<execution_record*> seen{root.row};
    bool finished = true;
    for (std::size_t i = 0; i < tree.size(); ++i) {
      finished = finished && tree[i]->is_finished();
      if (auto it = by_parent_.find(tree[i]->id); it != by_parent_.end())
        for (auto* child : it->second)
          if (seen.insert(child).second)
            tree.push_back(child);
    }
    if (!finished)
      continue;
    ++out.roots;
    out.rows += tree.size();
    if (req.dry_run)
      continue;
    // Children first: a row's id is copied before its memory is reused.
    for (auto r = tree.rbegin(); r != tree.rend(); ++r) {
      auto id = (*r)->id;
      unindex_state(**r);
      unindex_identity(**r);
      rows_.erase(id);
    }
  }
  return out;
}

// -- listeners ----------------------------------------------------------------

std::uint64_t memory_store::subscribe(store_listener listener) {
  return listeners_.subscribe(std::move(listener));
}

void memory_store::unsubscribe(std::uint64_t token) {
  listeners_.unsubscribe(token);
}

void memory_store::notify(std::vector<store_event>&& events) {
  listeners_.notify(std::move(events));
}

// -- helpers ------------------------------------------------------------------

void memory_store::stock_rows(std::size_t rows, row_room room) noexcept {
  // Small chunks come from operator new: only huge-page chunks are worth
  // faulting in ahead.
  if (rows <= room.spare_rows
      || room.next_chunk_bytes < huge_page_resource::huge_threshold)
    return;
  pages_.stock_up((rows - room.spare_rows) * sizeof(execution_record));
}

std::optional<insert_outcome>
memory_store::check_new_row(const execution_record& r) const {
  using kind = insert_outcome::kind;
  if (r.idempotency_key)
    if (auto it = by_key_.find(*r.idempotency_key); it != by_key_.end())
      return insert_outcome{kind::duplicate_key, it->second->id,
                            it->second->task_id};
  if (r.sleeping_id)
    if (auto it = by_sleeping_id_.find(*r.sleeping_id);
        it != by_sleeping_id_.end())
      return rows_.find(r.id) // a taken id is reported first
               ? insert_outcome{kind::duplicate_id, r.id}
               : insert_outcome{kind::duplicate_sleeping_id, it->second->id};
  return std::nullopt;
}

bool memory_store::children_clash(const transition& t, batch_keys& seen) const {
  for (const auto& c : t.children) {
    if (rows_.find(c.id) || seen.ids.contains(c.id))
      return true;
    if (c.sleeping_id
        && (by_sleeping_id_.contains(*c.sleeping_id)
            || seen.sleeping_ids.contains(*c.sleeping_id)))
      return true;
    if (c.idempotency_key
        && (by_key_.contains(*c.idempotency_key)
            || seen.keys.contains(*c.idempotency_key)))
      return true;
  }
  for (const auto& c : t.children) {
    seen.ids.insert(c.id);
    if (c.sleeping_id)
      seen.sleeping_ids.insert(*c.sleeping_id);
    if (c.idempotency_key)
      seen.keys.insert(*c.idempotency_key);
  }
  return false;
}

execution_record& memory_store::put_row(execution_record&& r) {
  auto& row = *rows_.insert(std::move(r)).first;
  index_identity(row);
  index_state(row);
  return row;
}

void memory_store::index_identity(execution_record& r) {
  if (r.sleeping_id)
    by_sleeping_id_[*r.sleeping_id] = &r;
  if (r.idempotency_key)
    by_key_[*r.idempotency_key] = &r;
  if (r.parent)
    by_parent_[r.parent->execution_id].insert(&r);
}

void memory_store::unindex_identity(execution_record& r) {
  auto drop = [&r](auto& map, const std::optional<std::string>& key) {
    if (!key)
      return;
    if (auto it = map.find(*key); it != map.end() && it->second == &r)
      map.erase(it);
  };
  drop(by_sleeping_id_, r.sleeping_id);
  drop(by_key_, r.idempotency_key);
  if (r.parent) {
    if (auto it = by_parent_.find(r.parent->execution_id);
        it != by_parent_.end()) {
      it->second.erase(&r);
      if (it->second.empty())
        by_parent_.erase(it);
    }
  }
}

void memory_store::index_state(execution_record& r) {
  if (r.status == execution_status::ready)
    ready_[r.task_id].insert(entry{r.start_at, &r});
  else if (takes_lease(r))
    leased_[r.task_id].insert(entry{lease_key(r), &r});
  else if (is_live_sleeper(r))
    sleepers_.insert(entry{*r.expires_at, &r});
  if (is_active(r.status) && r.owner)
    by_owner_[*r.owner].insert(&r);
  if (!r.parent && r.is_finished() && r.finished_at)
    finished_roots_[r.status].insert(entry{*r.finished_at, &r});
}

void memory_store::unindex_state(execution_record& r) {
  auto drop = [&r](auto& per_task, timestamp at) {
    if (auto it = per_task.find(r.task_id); it != per_task.end())
      it->second.erase(entry{at, &r});
  };
  if (r.status == execution_status::ready)
    drop(ready_, r.start_at);
  else if (takes_lease(r))
    drop(leased_, lease_key(r));
  else if (is_live_sleeper(r))
    sleepers_.erase(entry{*r.expires_at, &r});
  if (is_active(r.status) && r.owner) {
    if (auto it = by_owner_.find(*r.owner); it != by_owner_.end()) {
      it->second.erase(&r);
      if (it->second.empty())
        by_owner_.erase(it);
    }
  }
  if (!r.parent && r.is_finished() && r.finished_at)
    if (auto it = finished_roots_.find(r.status); it != finished_roots_.end())
      it->second.erase(entry{*r.finished_at, &r});
}

void memory_store::cascade(const execution_record& root, timestamp now,
                           std::vector<store_event>* events) {
  // Depth first from the root; `seen` guards against a parent link that
  // loops back (only a corrupt row could make one).
  std::vector<const execution_record*> todo{&root};
  std::unordered_set<const execution_record*> seen{&root};
  while (!todo.empty()) {
    const auto* parent = todo.back();
    todo.pop_back();
    auto it = by_parent_.find(parent->id);
    if (it == by_parent_.end())
      continue;
    for (auto* child : it->second) {
      if (!seen.insert(child).second)
        continue;
      todo.push_back(child);
      if (child->is_finished())
        continue;
      auto prev_owner = child->owner;
      unindex_state(*child);
      store_rules::cancel_descendant(*child, *parent, now);
      index_state(*child);
      if (!events)
        continue;
      if (prev_owner)
        events->push_back({store_event::type::cancelled,
                           child->id,
                           {},
                           std::move(*prev_owner),
                           now});
      events->push_back({store_event::type::finished,
                         child->id,
                         parent_id_of(*child),
                         {},
                         now});
    }
  }
}

// -- factory ------------------------------------------------------------------

std::shared_ptr<durable::store> memory() {
  return std::make_shared<memory_store>();
}

} // namespace durable::storage
