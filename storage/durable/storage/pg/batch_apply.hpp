#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "durable/store.hpp"

/// How the PostgreSQL store writes one batch of transitions
/// (pg_store::impl::apply_batch() and the statements it runs, in
/// batch_apply.cpp), and what the code that settles a failed batch
/// (apply.cpp) needs of it. Internal to storage/pg.
///
/// **Threading.** Any thread; a batch shares nothing with another but the
/// store (its pool, its floors cache, its listeners, all thread-safe).
///
/// **Durability.** A batch is one commit: every transition of it that
/// applies, their children and cascades are written together or not at
/// all. A batch of plain transitions alone is one statement outside a
/// transaction block, its NOTIFY inside it (storage/pg/README.md).
///
/// **Errors.** A transition that does not apply is an outcome, not an error
/// (`conflict`, `not_found`; `rejected` when one of its children collides).
/// apply_batch() throws what run() throws (transaction_runner.hpp): a batch
/// in doubt, or failed by one row's data, is settled by apply.cpp.
namespace durable::storage::pg {

/// A transition that applied: what the store decided (the row after the
/// write is the transition's `next` with these), and what its events need.
struct applied_write {
  std::optional<std::string> prev_owner;
  timestamp now{};
  std::optional<timestamp> lease_expires_at;
  bool watched = false;
  std::vector<execution_record> kids;
  std::vector<store_event> cascade_events;
  std::unordered_set<std::string> cascaded;
};

/// Whether the stored row `r` is what transition `t` writes: the version
/// after it, and the `updated_at` (the writer's clock, to the microsecond),
/// status and owner it sets.
bool carries(const execution_record& r, const transition& t);

} // namespace durable::storage::pg
