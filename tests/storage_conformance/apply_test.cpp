#include "durable/error.hpp"
#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

namespace {

/// A parent claimed by `owner` and now waiting for its children.
execution_record waiting_parent(fixture& f, const std::string& id,
                                const std::string& owner = "owner_a") {
  auto p = f.put(f.make_row(id));
  p = f.claim_one(id, owner);
  auto t = f.touch(p);
  t.next.kind = task_kind::parent;
  t.next.status = execution_status::waiting_for_children;
  t.next.waiting_for_children_started_at = f.clock.now();
  auto out = f.apply(t);
  REQUIRE(out.status == write_status::applied);
  return *out.current;
}

std::string parent_failed(const execution_record& parent,
                          const std::string& message) {
  return "Parent task failed [parentTaskId=" + parent.task_id
         + "] [parentExecutionId=" + parent.id + "]: " + message;
}

} // namespace

TEST_SUITE("storage.conformance.apply") {
  DURABLE_CONFORMANCE_CASE(
    "an applied transition replaces the row and bumps the version") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    r = f.claim_one("te_x");
    f.clock.advance(5ms);
    auto t = f.finish(r, execution_status::completed);
    t.next.output = "{\"ok\":true}";
    t.next.owner.reset();
    t.next.attempt = 3;
    t.next.step = 9;
    t.next.version = 77; // ignored: the store sets expected_version + 1
    auto out = f.apply(t);
    REQUIRE(out.status == write_status::applied);
    REQUIRE(out.current.has_value());
    auto expected = t.next;
    expected.version = r.version + 1;
    check_same_row(expected, *out.current);
    check_same_row(expected, f.must_get("te_x"));
  }

  DURABLE_CONFORMANCE_CASE(
    "a transition keeps the store-managed watched flag") {
    fixture f{Backend::make};
    f.put(f.make_row("te_w"));
    f.put(f.make_row("te_u"));
    auto w = *f.store->watch("te_w");
    auto tw = f.touch(w);
    tw.next.watched = false;
    auto u = f.must_get("te_u");
    auto tu = f.touch(u);
    tu.next.watched = true;
    auto out = f.store->apply({tw, tu});
    REQUIRE(out.size() == 2);
    REQUIRE(out[0].status == write_status::applied);
    REQUIRE(out[1].status == write_status::applied);
    CHECK(out[0].current->watched);
    CHECK_FALSE(out[1].current->watched);
    CHECK(f.must_get("te_w").watched);
    CHECK_FALSE(f.must_get("te_u").watched);
  }

  DURABLE_CONFORMANCE_CASE(
    "a transition with a stale version changes nothing and returns the row") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    auto stale = f.finish(r, execution_status::failed);
    f.claim_one("te_x");
    auto stored = f.must_get("te_x");
    REQUIRE(stored.version == r.version + 1);
    auto out = f.apply(stale);
    CHECK(out.status == write_status::conflict);
    REQUIRE(out.current.has_value());
    check_same_row(stored, *out.current);
    check_same_row(stored, f.must_get("te_x"));
  }

  DURABLE_CONFORMANCE_CASE(
    "a transition of an unknown execution is not_found and writes nothing") {
    fixture f{Backend::make};
    auto ghost = f.make_row("te_ghost");
    auto t = f.touch(ghost);
    t.children.push_back(f.make_child(ghost, "te_ghost_child", 0));
    auto out = f.apply(t);
    CHECK(out.status == write_status::not_found);
    CHECK_FALSE(out.current.has_value());
    CHECK_FALSE(f.store->get("te_ghost").has_value());
    CHECK_FALSE(f.store->get("te_ghost_child").has_value());
  }

  DURABLE_CONFORMANCE_CASE(
    "apply reports one outcome per transition and a conflict fails no other") {
    fixture f{Backend::make};
    auto a = f.put(f.make_row("te_a"));
    auto b = f.put(f.make_row("te_b"));
    auto c = f.put(f.make_row("te_c"));
    auto stale_b = f.touch(b);
    stale_b.expected_version = b.version + 5;
    auto out = f.store->apply({f.finish(a, execution_status::completed),
                               stale_b, f.touch(f.make_row("te_none")),
                               f.finish(c, execution_status::failed)});
    REQUIRE(out.size() == 4);
    CHECK(out[0].status == write_status::applied);
    CHECK(out[1].status == write_status::conflict);
    CHECK(out[2].status == write_status::not_found);
    CHECK(out[3].status == write_status::applied);
    CHECK(f.must_get("te_a").status == execution_status::completed);
    CHECK(f.must_get("te_b").version == b.version);
    CHECK(f.must_get("te_c").status == execution_status::failed);
  }

  DURABLE_CONFORMANCE_CASE(
    "two transitions of one row in one batch apply in order") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    auto first = f.touch(r);
    first.next.step = 1;
    auto second = first;
    second.next.step = 2;
    second.expected_version = r.version + 1;
    auto out = f.store->apply({first, second});
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == write_status::applied);
    CHECK(out[0].current->step == 1);
    CHECK(out[1].status == write_status::applied);
    CHECK(out[1].current->version == r.version + 2);
    CHECK(f.must_get("te_x").step == 2);
  }

  DURABLE_CONFORMANCE_CASE(
    "children are inserted with the transition that applies") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto t = f.touch(p);
    t.next.status = execution_status::waiting_for_children;
    auto c0 = f.make_child(p, "te_c0", 0);
    auto c1 = f.make_child(p, "te_c1", 1);
    c1.input = "{\"n\":1}";
    t.children = {c0, c1};
    t.next.children = {{c0.task_id, c0.id}, {c1.task_id, c1.id}};
    auto out = f.apply(t);
    REQUIRE(out.status == write_status::applied);
    check_same_row(c0, f.must_get("te_c0"));
    check_same_row(c1, f.must_get("te_c1"));
    CHECK(ids_of(f.store->children_of("te_p"))
          == std::vector<std::string>{"te_c0", "te_c1"});
    CHECK(out.current->children == t.next.children);
  }

  DURABLE_CONFORMANCE_CASE(
    "children of a conflicting transition are not inserted") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    auto t = f.touch(p);
    t.expected_version = p.version + 1;
    t.children = {f.make_child(p, "te_c0", 0), f.make_child(p, "te_c1", 1)};
    auto out = f.apply(t);
    CHECK(out.status == write_status::conflict);
    CHECK_FALSE(f.store->get("te_c0").has_value());
    CHECK_FALSE(f.store->get("te_c1").has_value());
    CHECK(f.store->children_of("te_p").empty());
  }

  DURABLE_CONFORMANCE_CASE(
    "a colliding child rejects only its own transition") {
    fixture f{Backend::make};
    auto other = f.put(f.make_row("te_other"));
    f.put(f.make_sleeper("te_s", "wake_1"));
    auto p = f.put(f.make_row("te_p"));
    auto child = f.make_sleeper("te_new_child", "wake_1");
    child.parent = parent_link{p.task_id, p.id, 0, true, false};
    auto t = f.touch(p);
    t.next.step = 5;
    t.children = {child};
    auto outs = f.store->apply({f.touch(other), t});
    REQUIRE(outs.size() == 2);
    CHECK(outs[0].status == write_status::applied);
    CHECK(outs[1].status == write_status::rejected);
    CHECK(f.must_get("te_other").version == other.version + 1);
    check_same_row(p, f.must_get("te_p"));
    CHECK_FALSE(f.store->get("te_new_child").has_value());
    CHECK(f.store->get_by_sleeping_id("wake_1")->id == "te_s");
  }

  DURABLE_CONFORMANCE_CASE(
    "a child whose id is taken rejects only its own transition") {
    // Neither a sleeping id nor a key: PostgreSQL inserts such children
    // without a savepoint and runs the batch again with one if they collide.
    fixture f{Backend::make};
    auto other = f.put(f.make_row("te_other"));
    auto spawner = f.put(f.make_row("te_spawner"));
    auto taken = f.put(f.make_row("te_taken"));
    auto p = f.put(f.make_row("te_p"));
    auto fine = f.touch(spawner);
    fine.children = {f.make_child(spawner, "te_fine_child", 0)};
    auto t = f.touch(p);
    t.next.step = 5;
    t.children = {f.make_child(p, "te_taken", 0)};
    auto outs = f.store->apply({f.touch(other), fine, t});
    REQUIRE(outs.size() == 3);
    CHECK(outs[0].status == write_status::applied);
    CHECK(outs[1].status == write_status::applied);
    CHECK(outs[2].status == write_status::rejected);
    CHECK(f.must_get("te_other").version == other.version + 1);
    CHECK(f.must_get("te_spawner").version == spawner.version + 1);
    CHECK(f.must_get("te_fine_child").parent->execution_id == "te_spawner");
    check_same_row(p, f.must_get("te_p"));
    check_same_row(taken, f.must_get("te_taken"));
  }

  DURABLE_CONFORMANCE_CASE(
    "a transition that keeps the owner never moves the lease back") {
    fixture f{Backend::make};
    f.put(f.make_row("te_p"));
    auto p = f.claim_one("te_p");
    f.clock.advance(2s);
    REQUIRE(f.store->renew_leases(*p.owner, 600s).size() == 1);
    auto renewed = *f.must_get("te_p").lease_expires_at;
    auto t = f.touch(p); // computed from the row as claimed, before renewal
    t.next.status = execution_status::waiting_for_children;
    auto out = f.apply(t);
    REQUIRE(out.status == write_status::applied);
    CHECK(*f.must_get("te_p").lease_expires_at == renewed);
  }

  DURABLE_CONFORMANCE_CASE(
    "cascade cancels unfinished children with the parent error") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto t = f.touch(p);
    t.next.status = execution_status::waiting_for_children;
    auto c0 = f.make_child(p, "te_c0", 0);
    auto c1 = f.make_child(p, "te_c1", 1);
    c1.start_at -= 1ms; // so that it is claimed first
    t.children = {c0, c1};
    p = *f.apply(t).current;
    c1 = f.claim_one("te_c1", "owner_b");
    f.clock.advance(1s);
    auto fail = f.finish(p, execution_status::failed, "it broke");
    fail.cancel_descendants = true;
    auto out = f.apply(fail);
    REQUIRE(out.status == write_status::applied);
    for (auto id : {"te_c0", "te_c1"}) {
      auto c = f.must_get(id);
      INFO(id);
      CHECK(c.status == execution_status::cancelled);
      REQUIRE(c.error.has_value());
      CHECK(c.error->kind == error_kind::cancelled);
      CHECK(c.error->message == parent_failed(*out.current, "it broke"));
      CHECK(c.finished_at == f.clock.now());
      CHECK(c.closed_at == f.clock.now());
      CHECK(c.updated_at == f.clock.now());
      CHECK_FALSE(c.lease_expires_at.has_value());
      CHECK_FALSE(c.run_output.has_value());
    }
    CHECK(f.must_get("te_c0").version == 1);
    CHECK(f.must_get("te_c1").version == c1.version + 1);
  }

  DURABLE_CONFORMANCE_CASE(
    "cascade reaches grandchildren with their own parent in the message") {
    fixture f{Backend::make};
    auto root = waiting_parent(f, "te_root");
    auto mid = f.make_child(root, "te_mid", 0);
    mid.kind = task_kind::parent;
    mid.status = execution_status::waiting_for_children;
    auto leaf = f.make_child(mid, "te_leaf", 0);
    auto leaf2 = f.make_child(leaf, "te_leaf2", 3);
    f.put({mid, leaf, leaf2});
    auto fail = f.finish(root, execution_status::failed, "root failed");
    fail.cancel_descendants = true;
    auto out = f.apply(fail);
    REQUIRE(out.status == write_status::applied);
    auto m = f.must_get("te_mid");
    auto l = f.must_get("te_leaf");
    auto l2 = f.must_get("te_leaf2");
    CHECK(m.status == execution_status::cancelled);
    CHECK(l.status == execution_status::cancelled);
    CHECK(l2.status == execution_status::cancelled);
    CHECK(m.error->message == parent_failed(*out.current, "root failed"));
    CHECK(l.error->message == parent_failed(m, m.error->message));
    CHECK(l2.error->message == parent_failed(l, l.error->message));
  }

  DURABLE_CONFORMANCE_CASE(
    "cascade leaves finished descendants alone but reaches below them") {
    fixture f{Backend::make};
    auto root = waiting_parent(f, "te_root");
    auto done = f.make_child(root, "te_done", 0);
    done.status = execution_status::completed;
    done.output = "1";
    done.finished_at = f.clock.now();
    auto below = f.make_child(done, "te_below", 0);
    auto sibling = f.make_child(root, "te_sibling", 1);
    f.put({done, below, sibling});
    auto done_before = f.must_get("te_done");
    auto fail = f.finish(root, execution_status::timed_out, "too slow");
    fail.cancel_descendants = true;
    REQUIRE(f.apply(fail).status == write_status::applied);
    check_same_row(done_before, f.must_get("te_done"));
    auto b = f.must_get("te_below");
    CHECK(b.status == execution_status::cancelled);
    CHECK(b.error->message == parent_failed(done_before, ""));
    CHECK(f.must_get("te_sibling").status == execution_status::cancelled);
  }

  DURABLE_CONFORMANCE_CASE("cascade stays inside the subtree") {
    fixture f{Backend::make};
    auto a = waiting_parent(f, "te_a");
    auto b = waiting_parent(f, "te_b");
    f.put({f.make_child(a, "te_a0", 0), f.make_child(b, "te_b0", 0)});
    auto fail = f.finish(a, execution_status::failed);
    fail.cancel_descendants = true;
    REQUIRE(f.apply(fail).status == write_status::applied);
    CHECK(f.must_get("te_a0").status == execution_status::cancelled);
    auto b0 = f.must_get("te_b0");
    CHECK(b0.status == execution_status::ready);
    CHECK(b0.version == 0);
    CHECK(f.must_get("te_b").status == execution_status::waiting_for_children);
  }

  DURABLE_CONFORMANCE_CASE(
    "without cancel_descendants the children keep going") {
    fixture f{Backend::make};
    auto p = waiting_parent(f, "te_p");
    f.put(f.make_child(p, "te_c", 0));
    REQUIRE(f.apply(f.finish(p, execution_status::failed)).status
            == write_status::applied);
    auto c = f.must_get("te_c");
    CHECK(c.status == execution_status::ready);
    CHECK(c.version == 0);
  }

  DURABLE_CONFORMANCE_CASE("a conflicting transition does not cascade") {
    fixture f{Backend::make};
    auto p = waiting_parent(f, "te_p");
    f.put(f.make_child(p, "te_c", 0));
    auto fail = f.finish(p, execution_status::failed);
    fail.cancel_descendants = true;
    fail.expected_version = p.version - 1;
    CHECK(f.apply(fail).status == write_status::conflict);
    CHECK(f.must_get("te_c").status == execution_status::ready);
    CHECK(f.must_get("te_p").status == execution_status::waiting_for_children);
  }

} // TEST_SUITE
