#include <algorithm>

#include "durable/store_rules.hpp"
#include "durable/transitions.hpp"
#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

TEST_SUITE("storage.conformance.leases") {
  DURABLE_CONFORMANCE_CASE(
    "renew_leases moves the lease without a version bump") {
    fixture f{Backend::make};
    f.put({f.make_row("te_1"), f.make_row("te_2")});
    auto claimed = f.claim("owner_a", {"task_a"}, 10, 1s).claimed;
    REQUIRE(claimed.size() == 2);
    f.clock.advance(800ms);
    CHECK(f.store->renew_leases("owner_a", 5s).size() == 2);
    for (const auto& before : claimed) {
      auto expected = before;
      expected.lease_expires_at = f.clock.now() + 5s;
      check_same_row(expected, f.must_get(before.id));
    }
  }

  DURABLE_CONFORMANCE_CASE(
    "renew_leases touches only active rows of that owner") {
    fixture f{Backend::make};
    f.put({f.make_row("te_a"), f.make_row("te_done")});
    f.claim("owner_a", {"task_a"}, 10, 1s);
    f.put(f.make_row("te_b"));
    auto b = f.claim("owner_b", {"task_a"}, 10, 1s).claimed.at(0);
    auto done = f.must_get("te_done");
    auto fin = f.finish(done, execution_status::completed);
    fin.next.lease_expires_at = done.lease_expires_at; // keep it, to see
    done = *f.apply(fin).current;
    f.clock.advance(500ms);
    CHECK(f.store->renew_leases("owner_a", 10s)
          == std::vector<std::string>{"te_a"});
    CHECK(f.must_get("te_a").lease_expires_at == f.clock.now() + 10s);
    check_same_row(b, f.must_get("te_b"));
    check_same_row(done, f.must_get("te_done"));
    CHECK(f.store->renew_leases("owner_nobody", 10s).size() == 0);
  }

  DURABLE_CONFORMANCE_CASE(
    "renew_leases leaves a lease with three quarters of the new one to run") {
    fixture f{Backend::make};
    f.put(f.make_row("te_old"));
    REQUIRE(f.claim("owner_a", {"task_a"}, 1, 10s).claimed.size() == 1);
    f.clock.advance(2s);
    f.put(f.make_row("te_new"));
    auto fresh = f.claim("owner_a", {"task_a"}, 1, 10s).claimed.at(0);
    REQUIRE(fresh.id == "te_new");
    f.clock.advance(1s);
    // te_new: 9 s of 10 left, more than 7.5 s; te_old: 7 s, less.
    auto renewed = f.store->renew_leases("owner_a", 10s);
    std::sort(renewed.begin(), renewed.end());
    CHECK(renewed == std::vector<std::string>{"te_new", "te_old"});
    CHECK(f.must_get("te_old").lease_expires_at == f.clock.now() + 10s);
    check_same_row(fresh, f.must_get("te_new"));
    // Below three quarters, it moves.
    f.clock.advance(1600ms);
    CHECK(f.store->renew_leases("owner_a", 10s).size() == 2);
    CHECK(f.must_get("te_new").lease_expires_at == f.clock.now() + 10s);
  }

  DURABLE_CONFORMANCE_CASE(
    "a renewed lease is not taken over at its old expiry") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    f.claim("owner_a", {"task_a"}, 10, 1s);
    f.clock.advance(900ms);
    f.store->renew_leases("owner_a", 1s);
    f.clock.advance(500ms);
    CHECK(f.claim("owner_b").claimed.empty());
    f.clock.advance(500ms);
    auto res = f.claim("owner_b");
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].recoveries == 1);
  }

  DURABLE_CONFORMANCE_CASE("release_leases makes the rows claimable at once") {
    fixture f{Backend::make};
    f.put({f.make_row("te_1"), f.make_row("te_2")});
    auto claimed = f.claim("owner_a", {"task_a"}, 10, 1min).claimed;
    REQUIRE(claimed.size() == 2);
    f.clock.advance(1s);
    CHECK(f.store->release_leases("owner_a") == 2);
    for (const auto& before : claimed) {
      auto r = f.must_get(before.id);
      CHECK(r.version == before.version);
      CHECK(r.status == execution_status::running);
      CHECK(r.lease_expires_at == f.clock.now());
      CHECK_FALSE(r.owner.has_value());
    }
    CHECK(f.store->renew_leases("owner_a", 1min).size() == 0);
    auto res = f.claim("owner_b");
    CHECK(res.claimed.size() == 2);
  }

  DURABLE_CONFORMANCE_CASE(
    "a released running row is taken over without a recovery") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    auto first = f.claim("owner_a", {"task_a"}, 10, 1min).claimed.at(0);
    f.store->release_leases("owner_a");
    auto res = f.claim("owner_b");
    REQUIRE(res.claimed.size() == 1);
    auto r = res.claimed[0];
    CHECK(r.recoveries == first.recoveries);
    CHECK(r.status == execution_status::running);
    CHECK(r.owner == std::optional<std::string>{"owner_b"});
    CHECK(r.version == first.version + 1);
  }

  DURABLE_CONFORMANCE_CASE(
    "release_leases touches only the rows of that owner") {
    fixture f{Backend::make};
    f.put(f.make_row("te_a"));
    f.claim("owner_a", {"task_a"}, 10, 1min);
    f.put(f.make_row("te_b"));
    auto b = f.claim("owner_b", {"task_a"}, 10, 1min).claimed.at(0);
    CHECK(f.store->release_leases("owner_a") == 1);
    check_same_row(b, f.must_get("te_b"));
    CHECK(ids_of(f.claim("owner_c").claimed)
          == std::vector<std::string>{"te_a"});
    CHECK(f.store->release_leases("owner_nobody") == 0);
  }

  DURABLE_CONFORMANCE_CASE(
    "one owner at a time leads a role until its lease expires") {
    fixture f{Backend::make};
    CHECK(f.store->try_lead("maintenance", "node_a", 2s));
    CHECK_FALSE(f.store->try_lead("maintenance", "node_b", 2s));
    // Another role is independent.
    CHECK(f.store->try_lead("other", "node_b", 2s));
    // The holder keeps it by renewing, before and across the old expiry.
    f.clock.advance(1500ms);
    CHECK(f.store->try_lead("maintenance", "node_a", 2s));
    f.clock.advance(1500ms);
    CHECK_FALSE(f.store->try_lead("maintenance", "node_b", 2s));
    // A holder that stops renewing loses it once its lease expired.
    f.clock.advance(600ms);
    CHECK(f.store->try_lead("maintenance", "node_b", 2s));
    CHECK_FALSE(f.store->try_lead("maintenance", "node_a", 2s));
  }

  // A node stores new rows it can start at once already claimed by itself
  // (executor_options::claim_on_insert): such a row must behave exactly like
  // a claimed one.
  DURABLE_CONFORMANCE_CASE(
    "a row inserted already claimed keeps its lease until it expires") {
    fixture f{Backend::make};
    event_recorder rec{*f.store};
    auto row = f.make_row("te_pre");
    store_rules::claim(row, f.clock.now(), "owner_a", 1s);
    check_same_row(row, f.put(row));
    CHECK(rec.of(store_event::type::work_ready).empty());
    CHECK(f.claim("owner_b").claimed.empty());
    f.clock.advance(500ms);
    CHECK(f.store->renew_leases("owner_a", 1s)
          == std::vector<std::string>{"te_pre"});
    f.clock.advance(900ms);
    CHECK(f.claim("owner_b").claimed.empty());
    f.clock.advance(100ms);
    auto res = f.claim("owner_b");
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].owner == "owner_b");
    CHECK(res.claimed[0].recoveries == 1);
    CHECK(res.claimed[0].version == row.version + 1);
  }

  DURABLE_CONFORMANCE_CASE(
    "children inserted already claimed are not claimed again") {
    fixture f{Backend::make};
    f.put(f.make_row("te_parent"));
    auto parent = f.claim_one("te_parent");
    auto kid = f.make_child(parent, "te_kid", 0);
    store_rules::claim(kid, f.clock.now(), "owner_a", 30s);
    auto ready_kid = f.make_child(parent, "te_kid_ready", 1);
    event_recorder rec{*f.store};
    auto out = f.apply(transitions::wait_for_children(
      parent, std::nullopt, {kid, ready_kid}, f.clock.now()));
    REQUIRE(out.status == write_status::applied);
    check_same_row(kid, f.must_get("te_kid"));
    auto ready = rec.of(store_event::type::work_ready);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0].execution_id == "te_kid_ready");
    auto res = f.claim("owner_b", {"task_a", "task_child"});
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].id == "te_kid_ready");
  }

  DURABLE_CONFORMANCE_CASE(
    "a row inserted already claimed gets its lease counted from the insert") {
    // A node claims a new row for itself (claim on insert), and the insert
    // commits only after the lease would have run out: the stored lease must
    // not have passed already, or another node could take a row whose body
    // is about to start.
    fixture f{Backend::make};
    auto r = f.make_row("te_local");
    store_rules::claim(r, f.clock.now(), "owner_a", 2s);
    const auto claimed_lease = *r.lease_expires_at;
    f.clock.advance(5s); // the insert waited longer than the lease
    f.put({r});
    auto stored = f.must_get("te_local");
    CHECK(stored.owner == std::optional<std::string>{"owner_a"});
    CHECK(stored.lease_expires_at == f.clock.now() + 2s);
    CHECK(stored.lease_expires_at > claimed_lease);
    // Not claimable by another node before that lease passes.
    CHECK(f.claim("owner_b").claimed.empty());

    SUBCASE("an insert in time keeps the claim's lease") {
      auto in_time = f.make_row("te_in_time");
      store_rules::claim(in_time, f.clock.now(), "owner_a", 2s);
      f.put({in_time});
      CHECK(f.must_get("te_in_time").lease_expires_at
            == in_time.lease_expires_at);
    }
    SUBCASE("so does a child stored by its parent's transition") {
      auto p = f.put(f.make_row("te_p"));
      p = f.claim_one("te_p");
      auto t = f.touch(p);
      t.next.status = execution_status::waiting_for_children;
      auto kid = f.make_child(p, "te_kid", 0);
      store_rules::claim(kid, f.clock.now(), "owner_a", 2s);
      f.clock.advance(3s);
      t.next.updated_at = f.clock.now();
      t.children = {kid};
      t.next.children = {{kid.task_id, kid.id}};
      REQUIRE(f.apply(t).status == write_status::applied);
      CHECK(f.must_get("te_kid").lease_expires_at == f.clock.now() + 2s);
    }
    SUBCASE("a row without an owner is stored as it is") {
      auto ready = f.make_row("te_ready");
      f.put({ready});
      CHECK_FALSE(f.must_get("te_ready").lease_expires_at.has_value());
    }
  }

} // TEST_SUITE
