#include <string>

#include <doctest/doctest.h>

#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "mysql/mysql_rows.hpp"

// A row another session holds locked: what the MySQL store does when it
// waits for a lock, and when it does not.

using namespace durable;
using durable::test::mysql_rows::database;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("mysql: a row locked past the lock wait timeout fails the call as "
          "a conflict and nothing else") {
  database db;
  auto r = db.row("te_l");
  db.put({r});
  // Another session holds the row's lock.
  storage::mysql_options o;
  storage::mysql_detail::connection holder{
    storage::mysql_detail::parse_url(durable::test::mysql::url_for(db.name)),
    o};
  holder.exec("START TRANSACTION");
  holder.exec("SELECT id FROM executions WHERE id = 'te_l' FOR UPDATE");
  auto so = durable::test::mysql::options(db.name);
  so.clock = db.clock.function();
  so.lock_wait_timeout = durable::millis{1000};
  so.max_conflict_retries = 1;
  storage::mysql_store s{so};
  transition t;
  t.next = r;
  t.expected_version = r.version;
  t.next.step = 2;
  try {
    s.apply({t});
    FAIL("the locked row was written");
  } catch (const store_error& e) {
    CHECK(e.failure() == store_failure::conflict);
    CHECK(contains(e.what(), "1205"));
  }
  // A claim skips the locked row instead of waiting for it.
  claim_request req{"owner_a", std::chrono::seconds{30}, 10, {"task_a"}};
  CHECK(s.claim(req).claimed.empty());
  holder.exec("ROLLBACK");
  auto out = s.apply({t});
  REQUIRE(out.size() == 1);
  CHECK(out[0].status == write_status::applied);
}
