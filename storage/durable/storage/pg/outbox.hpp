#pragma once

#include <vector>

#include <pqxx/transaction_base>

#include "durable/storage/pg/pg_store.hpp"
#include "durable/store.hpp"

/// Enqueueing inside the caller's own transaction: the transactional
/// outbox pattern. This header includes libpqxx; only code that wants the
/// outbox includes it, and links durable::storage_pg_outbox (which brings
/// libpqxx with it).
namespace durable::storage::pg {

/// Inserts `rows` into `store`'s schema inside the caller's transaction
/// `txn`, which must be on the same database. The rows exist if and only if
/// the caller commits `txn`: a rollback leaves nothing behind, so a business
/// write and the executions it triggers commit together.
///
/// Outcomes are exactly those of `store.insert(rows)` (duplicate keys and
/// sleeping ids reject only their own row and never abort `txn`). Rows are
/// written with the times they carry (build them with `store.now()`).
///
/// **Events.** A NOTIFY in `txn` (unless `pg_options::notify` is off), so
/// that every listening store, this one included, hears of the rows when the
/// caller commits; without it dispatchers find them on their next poll.
///
/// **Errors.** libpqxx exceptions propagate to the caller unchanged (it owns
/// the transaction and its retry policy); nothing is retried here.
std::vector<insert_outcome> insert_in(pg_store& store,
                                      pqxx::transaction_base& txn,
                                      std::vector<execution_record> rows);

} // namespace durable::storage::pg
