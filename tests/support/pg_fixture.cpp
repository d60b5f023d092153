#include "support/pg_fixture.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <unistd.h>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "durable/error.hpp"
#include "durable/storage/pg/error_mapping.hpp"
#include "durable/storage/pg/schema.hpp"

namespace durable::test::pg {

namespace {

std::mutex admin_mutex;
std::unique_ptr<pqxx::connection> admin;

} // namespace

std::string url() {
  const char* env = std::getenv("DURABLE_PG_URL");
  if (env == nullptr || *env == '\0')
    FAIL("DURABLE_PG_URL is not set: start a server with scripts/pg-start.sh "
         "and export DURABLE_PG_URL=<the URL it prints>");
  return env;
}

std::string unique_schema() {
  static std::atomic<int> counter{0};
  static const auto salt = std::random_device{}();
  return "t_" + std::to_string(::getpid()) + "_" + std::to_string(salt % 100000)
         + "_" + std::to_string(counter.fetch_add(1));
}

durable::storage::pg::pg_options options(std::string schema) {
  durable::storage::pg::pg_options o;
  o.url = url();
  o.schema = schema.empty() ? unique_schema() : std::move(schema);
  o.pool_size = 2;
  o.application_name = "durable_test";
  return o;
}

void exec_admin(const std::string& sql) {
  std::lock_guard guard{admin_mutex};
  for (int attempt = 0;; ++attempt) {
    try {
      if (!admin || !admin->is_open())
        admin = std::make_unique<pqxx::connection>(url());
      pqxx::nontransaction tx{*admin};
      tx.exec(sql);
      return;
    } catch (const pqxx::broken_connection& e) {
      admin.reset();
      if (attempt >= 2)
        FAIL("cannot reach PostgreSQL at DURABLE_PG_URL: "
             << std::string{e.what()});
    } catch (const pqxx::sql_error& e) {
      admin.reset();
      if (attempt >= 2
          || !durable::storage::pg::is_connection_sqlstate(e.sqlstate()))
        FAIL("admin statement failed: " << std::string{e.what()});
    }
  }
}

void drop_schema(const std::string& schema) {
  exec_admin("DROP SCHEMA IF EXISTS "
             + durable::storage::pg::quote_ident(schema) + " CASCADE");
}

std::shared_ptr<durable::store> make_store(std::function<timestamp()> clock,
                                           std::size_t pool_size) {
  auto opts = options();
  opts.clock = std::move(clock);
  opts.pool_size = pool_size;
  auto schema = opts.schema;
  std::unique_ptr<durable::storage::pg::pg_store> s;
  try {
    s = std::make_unique<durable::storage::pg::pg_store>(std::move(opts));
  } catch (const durable::error& e) {
    FAIL("cannot open a PostgreSQL store at DURABLE_PG_URL: "
         << std::string{e.what()});
  }
  // Close the store's connections first, then drop its schema.
  return std::shared_ptr<durable::store>(s.release(),
                                         [schema](durable::store* p) {
                                           delete p;
                                           try {
                                             drop_schema(schema);
                                           } catch (...) {
                                           }
                                         });
}

} // namespace durable::test::pg
