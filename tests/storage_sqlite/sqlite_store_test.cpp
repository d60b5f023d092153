// What the SQLite store adds to the conformance suite and to the cases it
// shares with the MySQL store (tests/sql_stores/): its file, its schema
// migrations, numbers only SQLite can damage, and several connections on
// one file.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <latch>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "durable/error.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "storage_conformance/conformance.hpp"
#include "storage_sqlite/sqlite_rows.hpp"

using namespace durable;
using namespace durable::test::conformance;
using durable::storage::sqlite_options;
using durable::storage::sqlite_store;
using durable::test::sqlite_rows::db_file;

namespace {

/// The message of the durable::error `fn` throws ("" if it throws none).
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const durable::error& e) {
    return e.what();
  }
  return {};
}

/// How `fn` fails: the failure() of the store_error it throws, "plain
/// error: <what>" for any other exception, "nothing thrown" otherwise.
template <class F>
std::string failure_thrown(F&& fn) {
  try {
    fn();
  } catch (const store_error& e) {
    return std::string{to_string(e.failure())};
  } catch (const std::exception& e) {
    return std::string{"plain error: "} + e.what();
  }
  return "nothing thrown";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void require_inserted(durable::store& s, std::vector<execution_record> rows) {
  auto n = rows.size();
  auto out = s.insert(std::move(rows));
  REQUIRE(out.size() == n);
  for (const auto& o : out)
    REQUIRE(o.result == insert_outcome::kind::inserted);
}

} // namespace

TEST_SUITE("storage.sqlite") {
  TEST_CASE("a new database gets the current schema version") {
    db_file f;
    auto s = f.open();
    CHECK(s->stored_schema_version() == sqlite_store::schema_version);
    CHECK(s->size() == 0);
    CHECK(std::filesystem::exists(f.path));
  }

  TEST_CASE("reopening a database migrates nothing twice and keeps its rows") {
    db_file f;
    {
      auto s = f.open();
      require_inserted(*s, {f.row("te_1"), f.row("te_2")});
    }
    for (int i = 0; i < 3; ++i) {
      auto s = f.open();
      INFO("reopen ", i);
      CHECK(s->stored_schema_version() == sqlite_store::schema_version);
      CHECK(s->size() == 2);
    }
  }

  TEST_CASE("a database with a newer schema version is refused") {
    db_file f;
    f.open()->execute("PRAGMA user_version = 99");
    auto msg = error_of([&] { f.open(); });
    CHECK(contains(msg, "database schema version 99 is newer than this binary "
                        "supports ("
                          + std::to_string(sqlite_store::schema_version)
                          + ")"));
    CHECK(contains(msg, f.path));
  }

  TEST_CASE("a path that cannot be opened is named in the error") {
    auto dir = durable::test::make_temp_dir("durable-sqlite-");
    auto missing = dir + "/no/such/folder/store.db";
    auto msg = error_of([&] { durable::storage::sqlite(missing); });
    CHECK(contains(msg, "cannot open SQLite database"));
    CHECK(contains(msg, missing));
    auto garbage = dir + "/garbage.db";
    {
      std::ofstream out{garbage};
      out << std::string(8192, 'x');
    }
    msg = error_of([&] { durable::storage::sqlite(garbage); });
    CHECK(contains(msg, "cannot open SQLite database"));
    CHECK(contains(msg, garbage));
  }

  TEST_CASE("the database runs in write-ahead log mode") {
    db_file f;
    auto s = f.open();
    require_inserted(*s, {f.row("te_1")});
    CHECK(std::filesystem::exists(f.path + "-wal"));
  }

  TEST_CASE("executions survive closing and reopening the database") {
    db_file f;
    std::vector<execution_record> before;
    {
      auto s = f.open();
      auto p = f.row("te_p");
      auto c = f.row("te_c", "task_child");
      c.parent = parent_link{p.task_id, p.id, 3, false, false};
      c.root = p.root;
      c.retry = retry_options{2, std::chrono::milliseconds{100}, 2.0,
                              std::chrono::milliseconds{900},
                              jitter_mode::full};
      c.input = "{\"text\":\"it's \\\"quoted\\\" \xc3\xbc\"}";
      auto k = f.row("te_k");
      k.idempotency_key = "order-7";
      require_inserted(*s, {p, c, k});
      claim_request req{"owner_a", std::chrono::seconds{30}, 10, {"task_a"}};
      REQUIRE(s->claim(req).claimed.size() == 2);
      s->watch("te_k");
      for (auto id : {"te_p", "te_c", "te_k"})
        before.push_back(*s->get(id));
    }
    auto s = f.open();
    for (const auto& r : before)
      check_same_row(r, *s->get(r.id));
    CHECK(ids_of(s->children_of("te_p")) == std::vector<std::string>{"te_c"});
    auto dup = f.row("te_other");
    dup.idempotency_key = "order-7";
    auto out = s->insert({dup});
    REQUIRE(out.size() == 1);
    CHECK(out[0].result == insert_outcome::kind::duplicate_key);
    CHECK(out[0].execution_id == "te_k");
    // The lease taken before closing still holds after reopening.
    claim_request req{
      "owner_b", std::chrono::seconds{30}, 10, {"task_a", "task_child"}};
    CHECK(ids_of(s->claim(req).claimed) == std::vector<std::string>{"te_c"});
  }

  TEST_CASE("a number SQLite turned into a real fails the row") {
    // SQLite stores an integer that overflows as a REAL; the row is
    // reported, not read as a guess.
    db_file f;
    auto s = f.open();
    require_inserted(*s, {f.row("te_real")});
    s->execute("UPDATE executions SET start_at = 9223372036854775807 + 1 "
               "WHERE id = 'te_real'");
    auto r = *s->get("te_real");
    CHECK(r.status == execution_status::failed);
    CHECK(contains(r.error->message, "column start_at is not an integer"));
  }

  TEST_CASE("a number stored as text fails the row") {
    // SQLite converts any text to 0 when asked for an integer: the column's
    // type is checked first.
    db_file f;
    auto s = f.open();
    require_inserted(*s, {f.row("te_n")});
    s->execute("UPDATE executions SET start_at = 'soon' WHERE id = 'te_n'");
    auto n = *s->get("te_n");
    CHECK(n.status == execution_status::failed);
    CHECK(contains(n.error->message, "column start_at is not an integer"));
  }
  TEST_CASE("two connections on one file never claim the same row") {
    db_file f;
    auto one = f.open();
    auto two = f.open();
    std::vector<execution_record> rows;
    for (int i = 0; i < 400; ++i)
      rows.push_back(f.row("te_" + std::to_string(i)));
    require_inserted(*one, std::move(rows));
    std::vector<std::string> taken[2];
    std::latch start{2};
    auto work = [&](durable::store& s, int i) {
      claim_request req{
        "owner_" + std::to_string(i), std::chrono::seconds{30}, 3, {"task_a"}};
      start.arrive_and_wait();
      for (;;) {
        auto res = s.claim(req);
        if (res.claimed.empty())
          return;
        for (auto& r : res.claimed)
          taken[i].push_back(r.id);
      }
    };
    std::thread a{work, std::ref(*one), 0};
    std::thread b{work, std::ref(*two), 1};
    a.join();
    b.join();
    std::multiset<std::string> all(taken[0].begin(), taken[0].end());
    all.insert(taken[1].begin(), taken[1].end());
    CHECK(all.size() == 400);
    CHECK(std::set<std::string>(all.begin(), all.end()).size() == 400);
  }

  TEST_CASE("SQLite's result codes map to the store's failures") {
    using durable::storage::sqlite_detail::failure_for;
    for (int code : {SQLITE_BUSY, SQLITE_BUSY_TIMEOUT, SQLITE_BUSY_SNAPSHOT,
                     SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR_READ}) {
      INFO("code ", code);
      CHECK(failure_for(code, false) == store_failure::unavailable);
      CHECK(failure_for(code, true)
            == (code == SQLITE_IOERR_READ ? store_failure::in_doubt
                                          : store_failure::unavailable));
    }
    for (int code : {SQLITE_CORRUPT, SQLITE_CORRUPT_INDEX, SQLITE_NOTADB}) {
      INFO("code ", code);
      CHECK(failure_for(code, false) == store_failure::corrupt);
    }
    for (int code : {SQLITE_FULL, SQLITE_READONLY, SQLITE_READONLY_DBMOVED,
                     SQLITE_CANTOPEN, SQLITE_CONSTRAINT_UNIQUE, SQLITE_ERROR}) {
      INFO("code ", code);
      CHECK(failure_for(code, false) == store_failure::fatal);
      CHECK(failure_for(code, true) == store_failure::fatal);
    }
  }

  TEST_CASE("a write that finds the file locked past busy_timeout is "
            "unavailable") {
    db_file f;
    sqlite_options patient;
    patient.busy_timeout = millis{20};
    auto s = f.open(patient);
    require_inserted(*s, {f.row("te_1")});
    // Another connection on the file takes the write lock and keeps it.
    auto other = f.open();
    other->execute("BEGIN IMMEDIATE");
    CHECK(failure_thrown([&] { s->insert({f.row("te_2")}); }) == "unavailable");
    CHECK(failure_thrown([&] { s->erase("te_1"); }) == "unavailable");
    // Readers do not wait for the writer (WAL).
    CHECK(s->get("te_1").has_value());
    other->execute("COMMIT");
    // Nothing was written, and the same call succeeds once the lock is free.
    CHECK_FALSE(s->get("te_2").has_value());
    require_inserted(*s, {f.row("te_2")});
  }

  TEST_CASE("a file that is not a database fails as corrupt") {
    db_file f;
    {
      std::ofstream out{f.path, std::ios::binary};
      out << std::string(8192, 'x');
    }
    auto msg = error_of([&] { f.open(); });
    CHECK(contains(msg, f.path));
    CHECK(failure_thrown([&] { f.open(); }) == "corrupt");
  }

  TEST_CASE("a damaged page fails the call that reads it as corrupt") {
    db_file f;
    {
      auto s = f.open();
      std::vector<execution_record> rows;
      for (int i = 0; i < 200; ++i)
        rows.push_back(f.row("te_" + std::to_string(i)));
      require_inserted(*s, std::move(rows));
      // Every page in the main file, none in the WAL.
      s->execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    // Page 1 (the header and the schema) stays; the pages after it are
    // overwritten with bytes no b-tree page has.
    auto size = std::filesystem::file_size(f.path);
    REQUIRE(size > 3 * 4096);
    {
      std::fstream io{f.path, std::ios::binary | std::ios::in | std::ios::out};
      io.seekp(4096);
      io << std::string(static_cast<std::size_t>(size - 4096), '\xff');
    }
    CHECK(failure_thrown([&] {
            auto s = f.open();
            s->get("te_1");
            s->size();
          })
          == "corrupt");
  }

} // TEST_SUITE
