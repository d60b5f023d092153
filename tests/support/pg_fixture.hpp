#pragma once

#include <functional>
#include <memory>
#include <string>

#include "durable/storage/pg/pg_store.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// Helpers for tests against a real PostgreSQL (label `pg`).
///
/// The server comes from `DURABLE_PG_URL` (scripts/pg-start.sh prints one;
/// scripts/test.sh exports it). A test that finds it unset or cannot reach
/// the server fails with a message naming the variable: pg tests never skip.
///
/// Each store gets its own fresh schema, dropped when the last reference to
/// the store goes away, so pg tests run in parallel without seeing each
/// other's rows.
namespace durable::test::pg {

/// `DURABLE_PG_URL`; fails the current test if it is unset.
std::string url();

/// A schema name no other test (or process) uses.
std::string unique_schema();

/// Options for a test store: the URL, a new schema, a small pool.
durable::storage::pg::pg_options options(std::string schema = {});

/// A new store on a fresh schema (dropped with the store). `clock`, when
/// set, replaces the server clock (the conformance suite's fake clock).
std::shared_ptr<durable::store>
make_store(std::function<timestamp()> clock = {}, std::size_t pool_size = 2);

/// Runs `sql` on a shared administrative connection (reconnects as needed).
void exec_admin(const std::string& sql);

/// Drops a schema with everything in it (ignores a missing one).
void drop_schema(const std::string& schema);

} // namespace durable::test::pg
