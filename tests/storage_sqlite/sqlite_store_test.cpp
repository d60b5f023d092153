// What the SQLite store adds to the conformance suite: its file, its schema
// migrations, rows damaged behind its back, and several connections on one
// file.
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
#include "durable/execution_fields.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite/row_codec.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/temp_dir.hpp"

using namespace durable;
using namespace durable::test::conformance;
using durable::storage::sqlite_options;
using durable::storage::sqlite_store;

namespace {

/// A database file in a fresh directory, opened on demand on a fake clock.
struct db_file {
  std::string dir = durable::test::make_temp_dir("durable-sqlite-");
  std::string path = dir + "/store.db";
  fake_clock clock;

  std::shared_ptr<sqlite_store> open(sqlite_options opts = {}) const {
    opts.clock = clock.function();
    return std::make_shared<sqlite_store>(path, std::move(opts));
  }

  execution_record row(std::string id, std::string task = "task_a") const {
    task_options opts;
    opts.id = task;
    opts.timeout = std::chrono::seconds{10};
    auto r = make_execution(std::move(task), task_kind::task, opts, "null",
                            clock.now());
    r.id = std::move(id);
    r.root = {r.task_id, r.id};
    return r;
  }
};

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
  TEST_CASE("the codec's columns are the table's, in the field list's order") {
    // A field added to execution_fields.hpp without a migration adding its
    // column(s) fails here; so does a migration without the field.
    db_file f;
    f.open();
    durable::storage::sqlite_detail::connection c{f.path, sqlite_options{}};
    auto q = c.prepare("SELECT name FROM pragma_table_info('executions') "
                       "ORDER BY cid");
    std::vector<std::string> table;
    while (q.step())
      table.push_back(q.text(0));
    namespace sd = durable::storage::sqlite_detail;
    std::vector<std::string> codec(sd::columns.begin(), sd::columns.end());
    CHECK_EQ(table, codec);
    // Every field has a column of its own name or `<name>_<part>`.
    durable::fields::for_each([&](const auto& field) {
      INFO(field.name);
      CHECK(std::any_of(codec.begin(), codec.end(), [&](const auto& name) {
        return name.starts_with(field.name);
      }));
    });
  }

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

  TEST_CASE("a corrupt row read by get is failed with a clear error") {
    db_file f;
    auto s = f.open();
    auto p = f.row("te_p");
    auto c = f.row("te_c");
    c.parent = parent_link{p.task_id, p.id, 0, true, false};
    require_inserted(*s, {p, c});
    s->execute("UPDATE executions SET children = '[{\"broken' "
               "WHERE id = 'te_c'");
    event_recorder rec{*s};
    f.clock.advance(std::chrono::seconds{1});
    auto r = s->get("te_c");
    REQUIRE(r.has_value());
    CHECK(r->status == execution_status::failed);
    REQUIRE(r->error.has_value());
    CHECK(contains(r->error->message, "Corrupt stored execution: "));
    CHECK(contains(r->error->message, "children"));
    CHECK_FALSE(r->error->retryable);
    CHECK(r->children.empty());
    CHECK(r->finished_at == f.clock.now());
    CHECK(r->version == c.version + 1);
    // The repair is stored, and the parent hears of its child's end.
    check_same_row(*r, *s->get("te_c"));
    auto finished = rec.of(store_event::type::finished);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].execution_id == "te_c");
    CHECK(finished[0].parent_id == "te_p");
    // Listeners hear what was wrong (the executor tells its observer).
    auto corrupt = rec.of(store_event::type::corrupt);
    REQUIRE(corrupt.size() == 1);
    CHECK(corrupt[0].execution_id == "te_c");
    CHECK(contains(corrupt[0].detail, "children"));
    CHECK(contains(corrupt[0].detail, "marked failed"));
    // Other rows are untouched.
    check_same_row(p, *s->get("te_p"));
  }

  TEST_CASE("a corrupt row met by a claim is failed and not claimed") {
    db_file f;
    auto s = f.open();
    auto a = f.row("te_a");
    auto b = f.row("te_b");
    b.start_at += std::chrono::milliseconds{1};
    auto e = f.row("te_e");
    e.start_at += std::chrono::milliseconds{2};
    require_inserted(*s, {a, b, e});
    s->execute("UPDATE executions SET retry = 'not json' WHERE id = 'te_a'");
    s->execute("UPDATE executions SET error = '42' WHERE id = 'te_e'");
    f.clock.advance(std::chrono::seconds{1});
    event_recorder rec{*s};
    claim_request req{"owner_a", std::chrono::seconds{30}, 10, {"task_a"}};
    auto res = s->claim(req);
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_b"});
    std::vector<std::string> reported;
    for (const auto& e : rec.of(store_event::type::corrupt))
      reported.push_back(e.execution_id);
    std::sort(reported.begin(), reported.end());
    CHECK(reported == std::vector<std::string>{"te_a", "te_e"});
    for (auto [id, column] :
         {std::pair{"te_a", "retry"}, std::pair{"te_e", "error"}}) {
      const char* named = id; // clang 14 cannot capture a structured binding
      INFO(named);
      auto r = *s->get(id);
      CHECK(r.status == execution_status::failed);
      CHECK(contains(r.error->message, "Corrupt stored execution: column "
                                         + std::string{column}));
      CHECK_FALSE(r.owner.has_value());
    }
    CHECK(s->claim(req).claimed.empty());
  }

  TEST_CASE("a claimed row whose stored numbers are out of range is failed "
            "and the rest are claimed") {
    // Planted behind the store's back, due before the good rows: the claim
    // would compute `now + timeout` (signed overflow) and add a recovery.
    db_file f;
    auto s = f.open();
    auto timeout = f.row("te_timeout");
    auto recoveries = f.row("te_recoveries");
    for (auto* r : {&timeout, &recoveries})
      r->start_at -= std::chrono::seconds{1};
    recoveries.status = execution_status::running;
    recoveries.owner = "owner_dead";
    recoveries.lease_expires_at = recoveries.start_at;
    auto b = f.row("te_b");
    b.start_at += std::chrono::milliseconds{1};
    require_inserted(*s, {f.row("te_a"), timeout, recoveries, b});
    s->execute("UPDATE executions SET timeout_ms = 9223372036854775807 "
               "WHERE id = 'te_timeout'");
    // Beyond 32 bits: the row cannot even hold it.
    s->execute("UPDATE executions SET recoveries = 4294967296 "
               "WHERE id = 'te_recoveries'");
    f.clock.advance(std::chrono::seconds{1});
    event_recorder rec{*s};
    claim_request req{"owner_a", std::chrono::seconds{30}, 10, {"task_a"}};
    auto res = s->claim(req);
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_a", "te_b"});
    std::vector<std::string> reported;
    for (const auto& e : rec.of(store_event::type::corrupt)) {
      reported.push_back(e.execution_id);
      CHECK(contains(e.detail, "marked failed"));
    }
    std::sort(reported.begin(), reported.end());
    CHECK(reported == std::vector<std::string>{"te_recoveries", "te_timeout"});
    for (auto [id, problem] :
         {std::pair{"te_timeout", "timeout_ms 9223372036854775807 is out of "
                                  "range (1..31536000000)"},
          std::pair{"te_recoveries", "recoveries 4294967296 is out of range "
                                     "(0..2147483646)"}}) {
      const char* named = id; // clang 14 cannot capture a structured binding
      INFO(named);
      auto r = *s->get(id);
      CHECK(r.status == execution_status::failed);
      REQUIRE(r.error.has_value());
      CHECK(r.error->message
            == "Stored execution is invalid: " + std::string{problem});
      CHECK_FALSE(r.owner.has_value());
    }
    // Read again, the failed rows stay as they are: nothing is computed
    // from a finished row's numbers.
    rec.clear();
    CHECK(s->get("te_timeout")->status == execution_status::failed);
    CHECK(rec.of(store_event::type::corrupt).empty());
    CHECK(s->claim(req).claimed.empty());
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

  TEST_CASE("an unknown status or kind or a damaged number fails the row") {
    db_file f;
    auto s = f.open();
    require_inserted(*s, {f.row("te_s"), f.row("te_k"), f.row("te_n")});
    s->execute("UPDATE executions SET status = 42 WHERE id = 'te_s'");
    s->execute("UPDATE executions SET kind = 17 WHERE id = 'te_k'");
    s->execute("UPDATE executions SET start_at = 'soon' WHERE id = 'te_n'");
    auto n = *s->get("te_n");
    CHECK(n.status == execution_status::failed);
    CHECK(contains(n.error->message, "column start_at is not an integer"));
    auto r = *s->get("te_s");
    CHECK(r.status == execution_status::failed);
    CHECK(contains(r.error->message, "unknown status 42"));
    auto k = *s->get("te_k");
    CHECK(k.status == execution_status::failed);
    CHECK(contains(k.error->message, "unknown kind 17"));
  }

  TEST_CASE("a transition of a corrupt row conflicts with the repaired row") {
    db_file f;
    auto s = f.open();
    auto r = f.row("te_x");
    require_inserted(*s, {r});
    s->execute("UPDATE executions SET finalize = '{' WHERE id = 'te_x'");
    transition t;
    t.next = r;
    t.expected_version = r.version;
    t.next.step = 3;
    auto out = s->apply({t});
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == write_status::conflict);
    REQUIRE(out[0].current.has_value());
    CHECK(out[0].current->status == execution_status::failed);
    CHECK(out[0].current->step == 0);
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

  TEST_CASE("a duplicate child inside one transition rejects it") {
    db_file f;
    auto s = f.open();
    auto p = f.row("te_p");
    require_inserted(*s, {p});
    auto c1 = f.row("te_c1");
    c1.parent = parent_link{p.task_id, p.id, 0, false, false};
    c1.sleeping_id = "same";
    auto c2 = c1;
    c2.id = "te_c2";
    transition t;
    t.next = p;
    t.expected_version = p.version;
    t.next.step = 1;
    t.children = {c1, c2};
    auto out = s->apply({t});
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == write_status::rejected);
    check_same_row(p, *s->get("te_p"));
    CHECK_FALSE(s->get("te_c1").has_value());
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
