// How the SQLite and the MySQL store apply a batch of transitions: its rows
// are read at once at the start (storage/durable/storage/sql/apply.hpp), so
// a row the batch itself changed on the way must be read again. The
// conformance suite leaves the order of these intra-batch effects open
// (PostgreSQL writes a batch set-wise); the SQL stores apply transitions
// one after the other, as the memory store does.
//
// Compiled like damaged_rows_test.cpp, with the same fixtures.
#include <doctest/doctest.h>

#include "storage_conformance/conformance.hpp"
#include DURABLE_SQL_STORE_FIXTURE_HEADER

using namespace durable;
using namespace durable::test::conformance;

TEST_SUITE("storage.sql") {
  TEST_CASE_TEMPLATE("a transition of a row an earlier cascade of its batch "
                     "cancelled conflicts with the cancelled row",
                     F, DURABLE_SQL_STORE_FIXTURES) {
    fixture f{F::backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto wait = f.touch(p);
    wait.next.kind = task_kind::parent;
    wait.next.status = execution_status::waiting_for_children;
    REQUIRE(f.apply(wait).status == write_status::applied);
    p = f.must_get("te_p");
    f.put(f.make_child(p, "te_c", 0));
    auto c = f.claim_one("te_c", "owner_b");
    auto fail = f.finish(p, execution_status::failed);
    fail.cancel_descendants = true;
    auto done = f.finish(c, execution_status::completed);
    auto out = f.store->apply({fail, done});
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == write_status::applied);
    CHECK(out[1].status == write_status::conflict);
    REQUIRE(out[1].current.has_value());
    CHECK(out[1].current->status == execution_status::cancelled);
    CHECK(out[1].current->version == c.version + 1);
    CHECK(f.must_get("te_c").status == execution_status::cancelled);
  }

  TEST_CASE_TEMPLATE("a transition of a child an earlier transition of its "
                     "batch inserted applies",
                     F, DURABLE_SQL_STORE_FIXTURES) {
    fixture f{F::backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto spawn = f.touch(p);
    spawn.next.kind = task_kind::parent;
    spawn.next.status = execution_status::waiting_for_children;
    auto child = f.make_child(spawn.next, "te_k", 0);
    spawn.children = {child};
    auto touch_child = f.touch(child);
    touch_child.next.step = 4;
    auto out = f.store->apply({spawn, touch_child});
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == write_status::applied);
    CHECK(out[1].status == write_status::applied);
    CHECK(f.must_get("te_k").step == 4);
  }
}
