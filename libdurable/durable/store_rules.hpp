#pragma once

#include <string>

#include "durable/execution_record.hpp"

/// Rules every store applies the same way, so that backends written in C++
/// (memory, SQLite) share them and the PostgreSQL backend mirrors them in SQL.
namespace durable::store_rules {

/// Whether a claim may take `r` over once its lease expired: running
/// bodies and waiting parents (not sleepers, which wait for a deadline).
bool takes_lease(const execution_record& r) noexcept;

/// Whether `claim` may take `r` at `now` (ignoring the task filter).
bool is_claimable(const execution_record& r, timestamp now) noexcept;

/// Applies a claim to `r`: owner, lease, version bump, and for ready rows
/// the move to `running` (`started_at`, `expires_at`); a running row whose
/// lease expired counts one recovery, unless it has no owner (its owner
/// released it with `store::release_leases`).
void claim(execution_record& r, timestamp now, const std::string& owner,
           millis lease);

/// The error a descendant is cancelled with when `parent` ends not-completed:
/// "Parent task failed [parentTaskId=…] [parentExecutionId=…]: <message>".
execution_error parent_failed_error(const execution_record& parent);

/// Cancels an unfinished descendant whose parent `parent` ended.
void cancel_descendant(execution_record& r, const execution_record& parent,
                       timestamp now);

} // namespace durable::store_rules
