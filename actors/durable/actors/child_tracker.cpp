#include "durable/actors/child_tracker.hpp"

#include <algorithm>
#include <string_view>

namespace durable::actors {

namespace {

std::string_view id_of(std::string_view id) {
  return id;
}

std::string_view id_of(const execution_ref& child) {
  return child.execution_id;
}

} // namespace

child_tracker::verdict child_tracker::on_announced(const std::string& id,
                                                   finished_row row,
                                                   activity now) {
  if (row)
    seen().finished.emplace(id, std::move(row));
  if (now == activity::writing || reading_) {
    // The write in flight may be the one storing this child, and the read
    // in flight may have seen it unfinished: on_write_applied() and
    // on_unfinished() discount it.
    seen().announced.push_back(id);
    return verdict::keep_waiting;
  }
  if (now != activity::waiting)
    return verdict::keep_waiting;
  return --remaining_ <= 0 ? verdict::check : verdict::keep_waiting;
}

child_tracker::verdict child_tracker::on_resync(activity now) {
  if (now == activity::waiting)
    return verdict::check;
  if (now == activity::writing)
    resync_pending_ = true; // on_write_applied() checks instead
  return verdict::keep_waiting;
}

child_tracker::verdict
child_tracker::on_write_applied(const std::string& awaited) {
  return after_write(std::vector<std::string_view>{awaited});
}

child_tracker::verdict
child_tracker::on_write_applied(const std::vector<execution_ref>& awaited) {
  return after_write(awaited);
}

template <class Ids>
child_tracker::verdict child_tracker::after_write(const Ids& awaited) {
  if (resync_pending_) {
    resync_pending_ = false;
    forget_announced();
    return verdict::check;
  }
  // None of the children the write stored can have ended except those
  // announced meanwhile: count on announcements instead of reading.
  remaining_ = 0;
  for (const auto& child : awaited)
    if (!was_announced(id_of(child)))
      ++remaining_;
  forget_announced();
  return remaining_ <= 0 ? verdict::check : verdict::keep_waiting;
}

child_tracker::verdict
child_tracker::on_unfinished(const std::vector<std::string>& unfinished) {
  int waiting = 0;
  for (const auto& id : unfinished)
    if (!was_announced(id))
      ++waiting;
  if (waiting <= 0)
    return verdict::check;
  remaining_ = waiting;
  return verdict::keep_waiting;
}

std::optional<execution_record>
child_tracker::take_finished(const std::string& id) {
  if (!seen_)
    return std::nullopt;
  auto& finished = seen_->finished;
  auto known = finished.find(id);
  if (known == finished.end())
    return std::nullopt;
  auto r = *known->second;
  finished.erase(known);
  return r;
}

std::optional<std::vector<execution_record>>
child_tracker::take_all_finished(const std::vector<execution_ref>& children) {
  if (!seen_ || children.empty())
    return std::nullopt;
  auto& finished = seen_->finished;
  for (const auto& c : children)
    if (!finished.contains(c.execution_id))
      return std::nullopt;
  std::vector<execution_record> rows;
  rows.reserve(children.size());
  for (const auto& c : children)
    rows.push_back(*finished.at(c.execution_id));
  finished.clear();
  return rows;
}

bool child_tracker::was_announced(std::string_view id) const {
  if (!seen_)
    return false;
  const auto& ids = seen_->announced;
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

} // namespace durable::actors
