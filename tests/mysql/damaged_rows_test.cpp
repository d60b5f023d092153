#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/execution_fields.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/row_codec.hpp"
#include "durable/storage/mysql_store.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/mysql_fixture.hpp"

// What the MySQL store adds to the conformance suite, as the SQLite
// store's own cases do: its columns, rows damaged behind its back, and a
// child that collides inside its own transition.

using namespace durable;
using namespace durable::test::conformance;

namespace {

/// A store on a database of its own, on a fake clock, dropped afterwards.
struct database {
  std::string name = durable::test::mysql::unique_database();
  fake_clock clock;
  std::shared_ptr<storage::mysql_store> store;

  database() {
    auto o = durable::test::mysql::options(name);
    o.clock = clock.function();
    store = std::make_shared<storage::mysql_store>(std::move(o));
  }

  ~database() {
    store.reset();
    durable::test::mysql::exec_admin("DROP DATABASE IF EXISTS `" + name + "`");
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

  void put(std::vector<execution_record> rows) {
    auto n = rows.size();
    auto out = store->insert(std::move(rows));
    REQUIRE(out.size() == n);
    for (const auto& o : out)
      REQUIRE(o.result == insert_outcome::kind::inserted);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("storage.mysql") {
  TEST_CASE("mysql: the codec's columns are the table's in the field list's "
            "order") {
    // A field added to execution_fields.hpp without a migration adding its
    // column(s) fails here; so does a migration without the field.
    database db;
    storage::mysql_options o;
    storage::mysql_detail::connection c{
      storage::mysql_detail::parse_url(durable::test::mysql::url_for(db.name)),
      o};
    auto q = c.prepare("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = DATABASE() AND table_name = "
                       "'executions' ORDER BY ordinal_position");
    std::vector<std::string> table;
    while (q.step())
      table.push_back(q.text(0));
    namespace md = storage::mysql_detail;
    std::vector<std::string> codec(md::columns.begin(), md::columns.end());
    CHECK_EQ(table, codec);
  }

  TEST_CASE("mysql: a corrupt row read by get is failed with a clear error") {
    database db;
    auto p = db.row("te_p");
    auto c = db.row("te_c");
    c.parent = parent_link{p.task_id, p.id, 0, true, false};
    db.put({p, c});
    db.store->execute("UPDATE executions SET children = '[{\"broken' "
                      "WHERE id = 'te_c'");
    event_recorder rec{*db.store};
    db.clock.advance(std::chrono::seconds{1});
    auto r = db.store->get("te_c");
    REQUIRE(r.has_value());
    CHECK(r->status == execution_status::failed);
    REQUIRE(r->error.has_value());
    CHECK(contains(r->error->message, "Corrupt stored execution: "));
    CHECK(contains(r->error->message, "children"));
    CHECK_FALSE(r->error->retryable);
    CHECK(r->finished_at == db.clock.now());
    CHECK(r->version == c.version + 1);
    check_same_row(*r, *db.store->get("te_c"));
    auto finished = rec.of(store_event::type::finished);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].parent_id == "te_p");
    auto corrupt = rec.of(store_event::type::corrupt);
    REQUIRE(corrupt.size() == 1);
    CHECK(contains(corrupt[0].detail, "marked failed"));
    check_same_row(p, *db.store->get("te_p"));
  }

  TEST_CASE("mysql: a corrupt row met by a claim is failed and not claimed") {
    database db;
    auto a = db.row("te_a");
    auto b = db.row("te_b");
    b.start_at += std::chrono::milliseconds{1};
    auto e = db.row("te_e");
    e.start_at += std::chrono::milliseconds{2};
    db.put({a, b, e});
    db.store->execute("UPDATE executions SET retry = 'not json' WHERE id = "
                      "'te_a'");
    db.store->execute("UPDATE executions SET error = '42' WHERE id = 'te_e'");
    db.clock.advance(std::chrono::seconds{1});
    event_recorder rec{*db.store};
    claim_request req{"owner_a", std::chrono::seconds{30}, 10, {"task_a"}};
    auto res = db.store->claim(req);
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_b"});
    std::vector<std::string> reported;
    for (const auto& ev : rec.of(store_event::type::corrupt))
      reported.push_back(ev.execution_id);
    std::sort(reported.begin(), reported.end());
    CHECK(reported == std::vector<std::string>{"te_a", "te_e"});
    CHECK(db.store->get("te_a")->status == execution_status::failed);
    CHECK(db.store->get("te_e")->status == execution_status::failed);
    CHECK(db.store->claim(req).claimed.empty());
  }

  TEST_CASE("mysql: an unknown status or kind fails the row") {
    database db;
    db.put({db.row("te_s"), db.row("te_k")});
    db.store->execute("UPDATE executions SET status = 42 WHERE id = 'te_s'");
    db.store->execute("UPDATE executions SET kind = 17 WHERE id = 'te_k'");
    auto r = *db.store->get("te_s");
    CHECK(r.status == execution_status::failed);
    CHECK(contains(r.error->message, "unknown status 42"));
    auto k = *db.store->get("te_k");
    CHECK(k.status == execution_status::failed);
    CHECK(contains(k.error->message, "unknown kind 17"));
  }

  TEST_CASE("mysql: a transition of a corrupt row conflicts with the repaired "
            "row") {
    database db;
    auto r = db.row("te_x");
    db.put({r});
    db.store->execute("UPDATE executions SET finalize = '{' WHERE id = "
                      "'te_x'");
    transition t;
    t.next = r;
    t.expected_version = r.version;
    t.next.step = 3;
    auto out = db.store->apply({t});
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == write_status::conflict);
    REQUIRE(out[0].current.has_value());
    CHECK(out[0].current->status == execution_status::failed);
    CHECK(out[0].current->step == 0);
  }

  TEST_CASE("mysql: a duplicate child inside one transition rejects it") {
    database db;
    auto p = db.row("te_p");
    db.put({p});
    auto c1 = db.row("te_c1");
    c1.parent = parent_link{p.task_id, p.id, 0, false, false};
    c1.sleeping_id = "same";
    auto c2 = c1;
    c2.id = "te_c2";
    transition t;
    t.next = p;
    t.expected_version = p.version;
    t.next.step = 1;
    t.children = {c1, c2};
    auto out = db.store->apply({t});
    REQUIRE(out.size() == 1);
    CHECK(out[0].status == write_status::rejected);
    check_same_row(p, *db.store->get("te_p"));
    CHECK_FALSE(db.store->get("te_c1").has_value());
  }
}

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
