// What the SQLite and the MySQL store must both do with the rows they
// share the encoding of (storage/durable/storage/sql/): the codec's
// columns are the table's, and a row damaged behind the store's back is
// failed with a clear error, announced, and never fails its batch-mates.
//
// Compiled into each store's test executable with its own
// DURABLE_SQL_STORE_FIXTURES (the fixture types) and
// DURABLE_SQL_STORE_FIXTURE_HEADER. A fixture `F` is a fresh, empty store
// on a fake clock: `F f;` then `f.store` (its shared_ptr, with execute()),
// `f.clock`, `f.row(id[, task])` (a ready row), `f.put(rows)` (inserted,
// required), and `f.table_columns()` (the columns of `executions`, in the
// table's order), and `F::backend` makes stores for a conformance::fixture.
#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/execution_fields.hpp"
#include "durable/storage/sql/row_codec.hpp"
#include "storage_conformance/conformance.hpp"
#include DURABLE_SQL_STORE_FIXTURE_HEADER

using namespace durable;
using namespace durable::test::conformance;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("storage.sql") {
  TEST_CASE_TEMPLATE("the codec's columns are the table's in the field "
                     "list's order",
                     F, DURABLE_SQL_STORE_FIXTURES) {
    // A field added to execution_fields.hpp without a migration adding its
    // column(s) fails here; so does a migration without the field.
    F f;
    auto table = f.table_columns();
    namespace sd = durable::storage::sql_detail;
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

  TEST_CASE_TEMPLATE("an unknown status or kind fails the row", F,
                     DURABLE_SQL_STORE_FIXTURES) {
    F f;
    f.put({f.row("te_s"), f.row("te_k")});
    f.store->execute("UPDATE executions SET status = 42 WHERE id = 'te_s'");
    f.store->execute("UPDATE executions SET kind = 17 WHERE id = 'te_k'");
    auto r = *f.store->get("te_s");
    CHECK(r.status == execution_status::failed);
    CHECK(contains(r.error->message, "unknown status 42"));
    auto k = *f.store->get("te_k");
    CHECK(k.status == execution_status::failed);
    CHECK(contains(k.error->message, "unknown kind 17"));
  }

  TEST_CASE_TEMPLATE("a corrupt row read by get is failed with a clear error",
                     F, DURABLE_SQL_STORE_FIXTURES) {
    F f;
    auto& s = f.store;
    auto p = f.row("te_p");
    auto c = f.row("te_c");
    c.parent = parent_link{p.task_id, p.id, 0, true, false};
    f.put({p, c});
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

  TEST_CASE_TEMPLATE("a corrupt row met by a claim is failed and not claimed",
                     F, DURABLE_SQL_STORE_FIXTURES) {
    F f;
    auto& s = f.store;
    auto a = f.row("te_a");
    auto b = f.row("te_b");
    b.start_at += std::chrono::milliseconds{1};
    auto e = f.row("te_e");
    e.start_at += std::chrono::milliseconds{2};
    f.put({a, b, e});
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

  TEST_CASE_TEMPLATE(
    "a claimed row whose stored numbers are out of range is failed "
    "and the rest are claimed",
    F, DURABLE_SQL_STORE_FIXTURES) {
    // Planted behind the store's back, due before the good rows: the claim
    // would compute `now + timeout` (signed overflow) and add a recovery.
    F f;
    auto& s = f.store;
    auto timeout = f.row("te_timeout");
    auto recoveries = f.row("te_recoveries");
    for (auto* r : {&timeout, &recoveries})
      r->start_at -= std::chrono::seconds{1};
    recoveries.status = execution_status::running;
    recoveries.owner = "owner_dead";
    recoveries.lease_expires_at = recoveries.start_at;
    auto b = f.row("te_b");
    b.start_at += std::chrono::milliseconds{1};
    f.put({f.row("te_a"), timeout, recoveries, b});
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

  TEST_CASE_TEMPLATE(
    "a transition of a corrupt row conflicts with the repaired row", F,
    DURABLE_SQL_STORE_FIXTURES) {
    F f;
    auto& s = f.store;
    auto r = f.row("te_x");
    f.put({r});
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

  TEST_CASE_TEMPLATE("a duplicate child inside one transition rejects it", F,
                     DURABLE_SQL_STORE_FIXTURES) {
    F f;
    auto& s = f.store;
    auto p = f.row("te_p");
    f.put({p});
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
}
