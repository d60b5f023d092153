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
/// the move to `running` (`started_at`, `expires_at`); a row whose lease
/// expired (running, or a waiting parent) counts one recovery, unless it
/// has no owner (its owner released it with `store::release_leases`).
/// Returns whether it counted one: the row was taken over from an owner
/// whose lease ran out (claim_result::taken_over).
bool claim(execution_record& r, timestamp now, const std::string& owner,
           millis lease);

/// A row stored already claimed (executor_options::claim_on_insert: a new
/// row, or a child) keeps its lease counted from the write that stores
/// it, not from the claim: an insert that took longer than the lease must
/// not store a lease that passed already. The length is the claim's
/// (claim() sets `updated_at` to its `now`, the lease to `now + lease`);
/// the lease only moves later, so what the claiming node knows of it stays
/// a safe bound. Rows without an owner are left as they are.
void lease_from_write(execution_record& r, timestamp now) noexcept;

/// The part of a lease a renewal leaves alone: three quarters.
///
/// A renewal with `lease` at `now` moves the lease of an active row only if
/// it ends before `renewal_floor(now, lease)`; a row claimed or renewed
/// within the last quarter of a lease keeps its own. The engine renews at
/// most every half lease (`lease_renew_interval`), so a row left alone is
/// renewed by the next renewal with at least a quarter of a lease to spare.
/// Most executions end within a second of their claim and are never
/// renewed: on PostgreSQL a renewal rewrote every active row of its node,
/// 5,000 rows every 1.5 s on a busy one.
///
/// After a renewal no active row of the owner has a lease earlier than
/// this (PostgreSQL's owner lease floor, owner_floors.hpp).
timestamp renewal_floor(timestamp now, millis lease) noexcept;

/// Whether a renewal with `lease` at `now` moves `r`'s lease (see
/// renewal_floor).
bool renewal_due(const execution_record& r, timestamp now,
                 millis lease) noexcept;

/// Whether `r` is a sleeper that scan_sleepers() may still report: a
/// sleeping execution, still `running`, with a deadline (`expires_at`). A
/// sleeper that ended, or a corrupt one repaired as failed, is not.
bool is_live_sleeper(const execution_record& r) noexcept;

/// The parent's execution id, empty for a top-level row: the `parent_id`
/// of the `finished` event a store announces for `r`.
std::string parent_id_of(const execution_record& r);

/// The error a descendant is cancelled with when `parent` ends not-completed:
/// "Parent task failed [parentTaskId=…] [parentExecutionId=…]: <message>".
execution_error parent_failed_error(const execution_record& parent);

/// Cancels an unfinished descendant whose parent `parent` ended.
void cancel_descendant(execution_record& r, const execution_record& parent,
                       timestamp now);

} // namespace durable::store_rules
