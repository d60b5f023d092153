#include <doctest/doctest.h>

#include "durable/error.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "support/mysql_fixture.hpp"

// The MySQL store's own cases: URL parsing, error classification, the
// schema. The store's behaviour is the conformance suite's.

namespace detail = durable::storage::mysql_detail;

TEST_CASE("mysql: URLs name user, password, host, port, database and socket") {
  auto u = detail::parse_url("mysql://app:s%40cret@db.example:3310/durable");
  CHECK(u.user == "app");
  CHECK(u.password == "s@cret");
  CHECK(u.host == "db.example");
  CHECK(u.port == 3310);
  CHECK(u.database == "durable");
  CHECK_FALSE(u.socket);
  auto d = detail::parse_url("mariadb://root@localhost/x?socket=/tmp/m.sock");
  CHECK(d.port == 3306);
  CHECK_FALSE(d.password);
  CHECK(d.socket == "/tmp/m.sock");
  CHECK_THROWS_AS(detail::parse_url("postgresql://x/y"), durable::error);
  CHECK_THROWS_AS(detail::parse_url("mysql://root@host:3306/"), durable::error);
  CHECK_THROWS_AS(detail::parse_url("mysql://root@host:99999/db"),
                  durable::error);
  CHECK_THROWS_AS(detail::parse_url("mysql://root@host/db?sslmode=on"),
                  durable::error);
}

TEST_CASE("mysql: errors are classified as on PostgreSQL") {
  using f = durable::store_failure;
  CHECK(detail::failure_for(1213, false) == f::conflict); // deadlock
  CHECK(detail::failure_for(1205, false) == f::conflict); // lock wait
  CHECK(detail::failure_for(2006, false) == f::unavailable);
  CHECK(detail::failure_for(2013, false) == f::unavailable);
  CHECK(detail::failure_for(2055, false) == f::unavailable);
  CHECK(detail::failure_for(2013, true) == f::in_doubt);
  CHECK(detail::failure_for(1927, true) == f::in_doubt); // killed
  CHECK(detail::failure_for(1062, false) == f::fatal);   // duplicate
  CHECK(detail::failure_for(1064, false) == f::fatal);   // syntax
}

TEST_CASE("mysql: a store migrates a new database to its schema version") {
  auto db = durable::test::mysql::unique_database();
  {
    durable::storage::mysql_store s{durable::test::mysql::options(db)};
    CHECK(s.stored_schema_version()
          == durable::storage::mysql_store::schema_version);
    // A second store on the same database finds it migrated.
    durable::storage::mysql_store again{durable::test::mysql::options(db)};
    CHECK(again.stored_schema_version()
          == durable::storage::mysql_store::schema_version);
  }
  durable::test::mysql::exec_admin("DROP DATABASE `" + db + "`");
}

TEST_CASE("mysql: a server that cannot be reached fails as unavailable") {
  durable::storage::mysql_options o;
  o.url = "mysql://root@127.0.0.1:1/none";
  o.connect_timeout = durable::millis{1000};
  o.reconnect_timeout = durable::millis{0};
  try {
    durable::storage::mysql_store s{o};
    FAIL("connected to port 1");
  } catch (const durable::store_error& e) {
    CHECK(e.failure() == durable::store_failure::unavailable);
  }
}
