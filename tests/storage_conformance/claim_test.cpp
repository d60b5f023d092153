#include <algorithm>
#include <latch>
#include <set>
#include <thread>

#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

TEST_SUITE("storage.conformance.claim") {
  DURABLE_CONFORMANCE_CASE(
    "claim starts due ready rows and takes their lease") {
    fixture f{Backend::make};
    auto r = f.make_row("te_due");
    r.timeout = 4s;
    f.put(r);
    auto later = f.make_row("te_later");
    later.start_at = f.clock.now() + 1s;
    f.put(later);
    f.clock.advance(250ms);
    auto now = f.clock.now();
    auto res = f.claim("owner_a", {"task_a"}, 10, 3s);
    REQUIRE(res.claimed.size() == 1);
    auto expected = r;
    expected.status = execution_status::running;
    expected.started_at = now;
    expected.expires_at = now + 4s;
    expected.owner = "owner_a";
    expected.lease_expires_at = now + 3s;
    expected.version = r.version + 1;
    expected.updated_at = now;
    check_same_row(expected, res.claimed[0]);
    check_same_row(expected, f.must_get("te_due"));
    auto l = f.must_get("te_later");
    CHECK(l.status == execution_status::ready);
    CHECK(l.version == 0);
    CHECK_FALSE(l.owner.has_value());
  }

  DURABLE_CONFORMANCE_CASE(
    "claim takes the oldest rows first up to the limit") {
    fixture f{Backend::make};
    auto base = f.clock.now();
    std::vector<execution_record> rows;
    for (int i : {4, 1, 3, 0, 2}) {
      auto r = f.make_row("te_" + std::to_string(i));
      r.start_at = base + std::chrono::milliseconds{i};
      rows.push_back(r);
    }
    f.put(rows);
    f.clock.advance(1s);
    auto first = f.claim("owner_a", {"task_a"}, 2);
    CHECK(ids_of(first.claimed) == std::vector<std::string>{"te_0", "te_1"});
    auto rest = f.claim("owner_a", {"task_a"}, 10);
    CHECK(ids_of(rest.claimed)
          == std::vector<std::string>{"te_2", "te_3", "te_4"});
  }

  DURABLE_CONFORMANCE_CASE("claim with limit 0 takes nothing") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    auto res = f.claim("owner_a", {"task_a"}, 0);
    CHECK(res.claimed.empty());
    auto r = f.must_get("te_x");
    CHECK(r.status == execution_status::ready);
    CHECK(r.version == 0);
  }

  DURABLE_CONFORMANCE_CASE("claim takes only rows of the requested tasks") {
    fixture f{Backend::make};
    f.put({f.make_row("te_a", "task_a"), f.make_row("te_b", "task_b"),
           f.make_row("te_c", "task_c")});
    auto res = f.claim("owner_a", {"task_a", "task_c", "task_missing"});
    auto ids = ids_of(res.claimed);
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<std::string>{"te_a", "te_c"});
    CHECK(f.must_get("te_b").status == execution_status::ready);
    CHECK(f.claim("owner_a", {}).claimed.empty());
    CHECK(f.must_get("te_b").status == execution_status::ready);
  }

  DURABLE_CONFORMANCE_CASE(
    "next_ready_at is the earliest pending ready row of the requested tasks") {
    fixture f{Backend::make};
    auto now = f.clock.now();
    auto a = f.make_row("te_a");
    a.start_at = now + 5s;
    auto b = f.make_row("te_b");
    b.start_at = now + 2s;
    auto other = f.make_row("te_other", "task_b");
    other.start_at = now + 1s;
    auto due = f.make_row("te_due");
    f.put({a, b, other, due});
    auto res = f.claim("owner_a", {"task_a"});
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_due"});
    CHECK(res.next_ready_at == now + 2s);
    CHECK(f.claim("owner_a", {"task_b"}).next_ready_at == now + 1s);
    CHECK_FALSE(f.claim("owner_a", {"task_none"}).next_ready_at.has_value());
    f.clock.advance(10s);
    auto all = f.claim("owner_a", {"task_a", "task_b"});
    CHECK(all.claimed.size() == 3);
    CHECK_FALSE(all.next_ready_at.has_value());
  }

  DURABLE_CONFORMANCE_CASE("a claimed row is not claimed again while leased") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    CHECK(f.claim("owner_a", {"task_a"}, 10, 1s).claimed.size() == 1);
    CHECK(f.claim("owner_b").claimed.empty());
    f.clock.advance(999ms);
    CHECK(f.claim("owner_b").claimed.empty());
    CHECK(f.must_get("te_x").owner == std::optional<std::string>{"owner_a"});
  }

  DURABLE_CONFORMANCE_CASE("concurrent claims take every row exactly once") {
    fixture f{Backend::make};
    constexpr int threads = 8;
    constexpr int per_thread = 1000;
    std::vector<execution_record> rows;
    for (int i = 0; i < threads * per_thread; ++i)
      rows.push_back(f.make_row("te_" + std::to_string(i)));
    f.put(std::move(rows));
    std::vector<std::vector<std::string>> taken(threads);
    std::latch start{threads};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&, i] {
        claim_request req;
        req.owner = "owner_" + std::to_string(i);
        req.lease = 30s;
        req.limit = 7;
        req.task_ids = {"task_a"};
        start.arrive_and_wait();
        for (;;) {
          auto res = f.store->claim(req);
          if (res.claimed.empty())
            return;
          for (auto& r : res.claimed)
            taken[i].push_back(r.id);
        }
      });
    }
    for (auto& t : pool)
      t.join();
    std::multiset<std::string> all;
    for (auto& ids : taken)
      all.insert(ids.begin(), ids.end());
    CHECK(all.size() == std::size_t{threads * per_thread});
    std::set<std::string> distinct(all.begin(), all.end());
    CHECK(distinct.size() == all.size());
    auto sample = f.must_get("te_123");
    CHECK(sample.status == execution_status::running);
    CHECK(sample.version == 1);
  }

  DURABLE_CONFORMANCE_CASE(
    "a claim without take over leaves expired and handed back leases alone") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    f.put(f.make_row("te_y"));
    auto held = f.claim("owner_a", {"task_a"}, 1, 1s).claimed.at(0);
    f.clock.advance(1ms); // handed back after te_y became due
    f.store->release_leases("owner_a");
    f.claim("owner_c", {"task_a"}, 1, 1s); // te_y, its lease expires below
    f.clock.advance(2s);
    f.put(f.make_row("te_z"));
    claim_request ready_only{"owner_b", 2s, 10, {"task_a"}, false};
    auto res = f.store->claim(ready_only);
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].id == "te_z");
    auto again = f.claim("owner_b", {"task_a"}, 10, 2s); // take_over: both
    REQUIRE(again.claimed.size() == 2);
    CHECK(again.claimed[0].id != again.claimed[1].id);
    for (const auto& r : again.claimed)
      CHECK((r.id == "te_x" || r.id == "te_y"));
    CHECK(f.must_get(held.id).owner == std::optional<std::string>{"owner_b"});
  }

  DURABLE_CONFORMANCE_CASE(
    "an expired lease of a running row is taken over as a recovery") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    auto first = f.claim("owner_a", {"task_a"}, 10, 1s).claimed.at(0);
    f.clock.advance(1s);
    auto now = f.clock.now();
    auto res = f.claim("owner_b", {"task_a"}, 10, 2s);
    REQUIRE(res.claimed.size() == 1);
    auto r = res.claimed[0];
    CHECK(r.status == execution_status::running);
    CHECK(r.owner == std::optional<std::string>{"owner_b"});
    CHECK(r.lease_expires_at == now + 2s);
    CHECK(r.recoveries == first.recoveries + 1);
    CHECK(r.attempt == first.attempt);
    CHECK(r.started_at == now);
    CHECK(r.expires_at == now + r.timeout);
    CHECK(r.version == first.version + 1);
    check_same_row(r, f.must_get("te_x"));
  }

  DURABLE_CONFORMANCE_CASE(
    "a claim reports the rows it took over from an expired lease, not the "
    "ready ones") {
    fixture f{Backend::make};
    f.put(f.make_row("te_lost"));
    f.put(f.make_row("te_waiting"));
    auto held = f.claim("owner_a", {"task_a"}, 10, 1s);
    REQUIRE(held.claimed.size() == 2);
    CHECK(held.taken_over.empty()); // ready rows
    auto t = f.touch(f.must_get("te_waiting"));
    t.next.kind = task_kind::parent;
    t.next.status = execution_status::waiting_for_finalize;
    REQUIRE(f.apply(t).status == write_status::applied);
    f.clock.advance(500ms);
    // Due between the two: te_lost's lease expires after it is due.
    auto ready = f.make_row("te_ready");
    f.put(ready);
    f.clock.advance(1s);
    auto res = f.claim("owner_b", {"task_a"}, 10, 2s);
    REQUIRE(res.claimed.size() == 3);
    std::vector<std::string> took;
    for (auto i : res.taken_over) {
      REQUIRE(i < res.claimed.size());
      took.push_back(res.claimed[i].id);
      CHECK(res.claimed[i].recoveries == 1);
    }
    std::sort(took.begin(), took.end());
    CHECK(took == std::vector<std::string>{"te_lost", "te_waiting"});
    CHECK(std::is_sorted(res.taken_over.begin(), res.taken_over.end()));
    for (const auto& r : res.claimed)
      if (r.id == "te_ready")
        CHECK(r.recoveries == 0);
  }

  DURABLE_CONFORMANCE_CASE(
    "a released row claimed again is not reported as taken over") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    f.claim("owner_a", {"task_a"}, 10, 1min);
    REQUIRE(f.store->release_leases("owner_a") == 1);
    auto res = f.claim("owner_b");
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].recoveries == 0);
    CHECK(res.taken_over.empty());
  }

  DURABLE_CONFORMANCE_CASE(
    "an expired lease of a waiting parent is taken over with a recovery") {
    // Its node died supervising it: as for a running row, so that a parent
    // whose inline finalize crashes every node that adopts it fails once it
    // passed max_recoveries.
    fixture f{Backend::make};
    f.put(f.make_row("te_p"));
    auto p = f.claim("owner_a", {"task_a"}, 10, 1s).claimed.at(0);
    auto t = f.touch(p);
    t.next.kind = task_kind::parent;
    t.next.status = execution_status::waiting_for_finalize;
    p = *f.apply(t).current;
    f.clock.advance(2s);
    auto res = f.claim("owner_b", {"task_a"}, 10, 1s);
    REQUIRE(res.claimed.size() == 1);
    auto r = res.claimed[0];
    CHECK(r.status == execution_status::waiting_for_finalize);
    CHECK(r.owner == std::optional<std::string>{"owner_b"});
    CHECK(r.lease_expires_at == f.clock.now() + 1s);
    CHECK(r.recoveries == p.recoveries + 1);
    CHECK(r.started_at == p.started_at);
    CHECK(r.version == p.version + 1);
  }

  DURABLE_CONFORMANCE_CASE("sleeping and finished rows are never claimed") {
    fixture f{Backend::make};
    auto s = f.make_sleeper("te_s", "wake", 1s);
    s.task_id = "task_a";
    f.put(s);
    auto done = f.make_row("te_done");
    done.status = execution_status::completed;
    auto failed = f.make_row("te_failed");
    failed.status = execution_status::failed;
    failed.owner = "gone";
    failed.lease_expires_at = f.clock.now();
    f.put({done, failed});
    f.clock.advance(1h);
    auto res = f.claim("owner_a", {"task_a", "sleeper"});
    CHECK(res.claimed.empty());
    CHECK(f.must_get("te_s").version == 0);
    CHECK(f.must_get("te_done").version == 0);
  }

  DURABLE_CONFORMANCE_CASE(
    "claim takes ready rows and expired leases oldest first") {
    fixture f{Backend::make};
    auto base = f.clock.now();
    // te_lease's lease expires at base + 2s; te_r1 is due at base + 1s and
    // te_r3 at base + 3s.
    f.put(f.make_row("te_lease"));
    f.claim("owner_a", {"task_a"}, 10, 2s);
    auto r1 = f.make_row("te_r1");
    r1.start_at = base + 1s;
    auto r3 = f.make_row("te_r3");
    r3.start_at = base + 3s;
    f.put({r3, r1});
    f.clock.advance(5s);
    auto res = f.claim("owner_b", {"task_a"}, 2);
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_r1", "te_lease"});
    CHECK(ids_of(f.claim("owner_b").claimed)
          == std::vector<std::string>{"te_r3"});
  }

  DURABLE_CONFORMANCE_CASE("claim compares with the store clock") {
    fixture f{Backend::make};
    // The store clock lies ten years in the past; the system clock would
    // make every row due.
    f.clock.set(f.clock.now() - std::chrono::hours{24 * 3650});
    auto r = f.make_row("te_x");
    r.start_at = f.clock.now() + 1min;
    f.put(r);
    CHECK(f.claim().claimed.empty());
    f.clock.advance(1min);
    auto res = f.claim("owner_a", {"task_a"}, 10, 5s);
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].started_at == f.clock.now());
    CHECK(res.claimed[0].lease_expires_at == f.clock.now() + 5s);
    CHECK(f.store->now() == f.clock.now());
  }

} // TEST_SUITE
