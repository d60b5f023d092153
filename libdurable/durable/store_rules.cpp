#include "durable/store_rules.hpp"

#include <fmt/format.h>

#include "durable/assert.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::store_rules {

bool takes_lease(const execution_record& r) noexcept {
  switch (r.status) {
    case execution_status::running:
      return !r.is_sleeping();
    case execution_status::waiting_for_children:
    case execution_status::waiting_for_finalize:
      return true;
    default:
      return false;
  }
}

bool is_claimable(const execution_record& r, timestamp now) noexcept {
  if (r.status == execution_status::ready)
    return r.start_at <= now;
  return takes_lease(r) && (!r.lease_expires_at || *r.lease_expires_at <= now);
}

bool is_live_sleeper(const execution_record& r) noexcept {
  return r.is_sleeping() && r.status == execution_status::running
         && r.expires_at.has_value();
}

std::string parent_id_of(const execution_record& r) {
  return r.parent ? r.parent->execution_id : std::string{};
}

timestamp renewal_floor(timestamp now, millis lease) noexcept {
  return now + std::chrono::microseconds{lease} * 3 / 4;
}

bool renewal_due(const execution_record& r, timestamp now,
                 millis lease) noexcept {
  return !r.lease_expires_at || *r.lease_expires_at < renewal_floor(now, lease);
}

bool claim(execution_record& r, timestamp now, const std::string& owner,
           millis lease) {
  // No store hands out a row out of range (stored_ranges.hpp), so the sums
  // below cannot overflow.
  DURABLE_ASSERT(!stored_ranges::problem(r),
                 "a claimed row's numbers are in range");
  const bool lost = r.status != execution_status::ready && r.owner;
  if (r.status == execution_status::ready) {
    r.status = execution_status::running;
    r.started_at = now;
    r.expires_at = now + r.timeout;
  } else if (r.status == execution_status::running) {
    // The previous owner died mid-run: run the body again, same attempt.
    r.started_at = now;
    r.expires_at = now + r.timeout;
  }
  // A row taken from an owner whose lease ran out was lost with its node:
  // one recovery, whether it ran a body or supervised children (a waiting
  // parent whose inline finalize crashes its node every time must trip
  // max_recoveries too). A row without an owner was released (drained, or
  // handed back, which counted one itself): none.
  if (lost)
    r.recoveries += 1;
  r.owner = owner;
  r.lease_expires_at = now + lease;
  r.version += 1;
  r.updated_at = now;
  return lost;
}

void lease_from_write(execution_record& r, timestamp now) noexcept {
  if (!r.owner || !r.lease_expires_at || *r.lease_expires_at <= r.updated_at)
    return;
  const auto length = *r.lease_expires_at - r.updated_at;
  if (now + length > *r.lease_expires_at)
    r.lease_expires_at = now + length;
}

execution_error parent_failed_error(const execution_record& parent) {
  auto msg = parent.error ? parent.error->message : std::string{};
  return cancelled_error(
    fmt::format("Parent task failed [parentTaskId={}] [parentExecutionId={}]: "
                "{}",
                parent.task_id, parent.id, msg));
}

void cancel_descendant(execution_record& r, const execution_record& parent,
                       timestamp now) {
  r.status = execution_status::cancelled;
  r.error = parent_failed_error(parent);
  r.finished_at = now;
  r.closed_at = now;
  r.updated_at = now;
  r.run_output.reset();
  r.lease_expires_at.reset();
  r.version += 1;
}

} // namespace durable::store_rules
