#include <chrono>
#include <thread>

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

TEST_CASE("mysql: a pool of no connections is refused before connecting") {
  durable::storage::mysql_options o;
  o.url = "mysql://root@127.0.0.1:1/none"; // never reached
  o.pool_size = 0;
  CHECK_THROWS_WITH_AS(durable::storage::mysql_store{o},
                       "mysql store: pool_size must be at least 1",
                       durable::error);
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

TEST_CASE("mysql: a store on the server's clock measures its offset") {
  auto db = durable::test::mysql::unique_database();
  {
    auto o = durable::test::mysql::options(db);
    o.clock = {};
    durable::storage::mysql_store s{o};
    // Same machine: the offset is the round trip's error, far below 1 s.
    CHECK(std::chrono::abs(s.server_clock_offset()) < std::chrono::seconds{1});
    auto now = s.now();
    CHECK(std::chrono::abs(now - durable::system_now())
          < std::chrono::seconds{1});
  }
  durable::test::mysql::exec_admin("DROP DATABASE `" + db + "`");
}

TEST_CASE("mysql: a store whose connection was killed reconnects") {
  auto db = durable::test::mysql::unique_database();
  {
    durable::storage::mysql_store s{durable::test::mysql::options(db)};
    CHECK_FALSE(s.get("nothing"));
    // Kill every session on the store's database, as a server restart or
    // a proxy would.
    durable::storage::mysql_options ao;
    detail::connection admin{detail::parse_url(durable::test::mysql::url()),
                             ao};
    auto sessions = "SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE db = '"
                    + db + "'";
    CHECK(admin.scalar(sessions) == "1");
    durable::test::mysql::exec_admin(
      "BEGIN NOT ATOMIC FOR c IN (SELECT id FROM "
      "information_schema.processlist WHERE db = '"
      + db
      + "' AND id <> CONNECTION_ID()) DO KILL CONNECTION c.id; END FOR; "
        "END");
    for (int i = 0; i < 50 && admin.scalar(sessions) != "0"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(admin.scalar(sessions) == "0");
    CHECK_FALSE(s.get("nothing"));
    CHECK(s.try_lead("role", "me", durable::millis{1000}));
    // The main connection again, and the one for leases and leadership.
    CHECK(admin.scalar(sessions) == "2");
  }
  durable::test::mysql::exec_admin("DROP DATABASE `" + db + "`");
}
