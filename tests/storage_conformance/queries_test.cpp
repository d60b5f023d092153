#include <algorithm>

#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

TEST_SUITE("storage.conformance.queries") {
  DURABLE_CONFORMANCE_CASE(
    "get_by_sleeping_id finds only sleeping ids it stores") {
    fixture f{Backend::make};
    auto s = f.put(f.make_sleeper("te_s", "wake_42"));
    f.put(f.make_row("te_plain"));
    auto found = f.store->get_by_sleeping_id("wake_42");
    REQUIRE(found.has_value());
    check_same_row(s, *found);
    CHECK_FALSE(f.store->get_by_sleeping_id("wake_43").has_value());
    CHECK_FALSE(f.store->get_by_sleeping_id("te_s").has_value());
    CHECK_FALSE(f.store->get("wake_42").has_value());
    CHECK_FALSE(f.store->get("te_unknown").has_value());
  }

  DURABLE_CONFORMANCE_CASE(
    "children_of orders by index with the finalize last") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    auto other = f.put(f.make_row("te_other"));
    // Ids sort against the index on purpose.
    f.put({f.make_child(p, "te_a_fin", 0, true), f.make_child(p, "te_b2", 2),
           f.make_child(p, "te_c0", 0), f.make_child(p, "te_d10", 10),
           f.make_child(p, "te_e1", 1), f.make_child(other, "te_x", 0)});
    CHECK(ids_of(f.store->children_of("te_p"))
          == std::vector<std::string>{"te_c0", "te_e1", "te_b2", "te_d10",
                                      "te_a_fin"});
    auto only = f.store->children_of("te_other");
    REQUIRE(only.size() == 1);
    check_same_row(f.must_get("te_x"), only[0]);
    CHECK(f.store->children_of("te_unknown").empty());
    CHECK(f.store->children_of("te_c0").empty());
  }

  DURABLE_CONFORMANCE_CASE(
    "scan_sleepers returns expired sleepers oldest deadline first") {
    fixture f{Backend::make};
    f.put({f.make_sleeper("te_s3", "w3", 3s), f.make_sleeper("te_s1", "w1", 1s),
           f.make_sleeper("te_s2", "w2", 2s),
           f.make_sleeper("te_s9", "w9", 9s)});
    auto start = f.clock.now();
    auto none = f.store->scan_sleepers(10);
    CHECK(none.expired.empty());
    CHECK(none.next_deadline == start + 1s);
    f.clock.advance(3s);
    auto two = f.store->scan_sleepers(2);
    CHECK(ids_of(two.expired) == std::vector<std::string>{"te_s1", "te_s2"});
    CHECK(two.next_deadline == start + 9s);
    auto all = f.store->scan_sleepers(10);
    CHECK(ids_of(all.expired)
          == std::vector<std::string>{"te_s1", "te_s2", "te_s3"});
    CHECK(all.next_deadline == start + 9s);
    CHECK(f.store->scan_sleepers(0).expired.empty());
  }

  DURABLE_CONFORMANCE_CASE(
    "scan_sleepers ignores finished sleepers and other rows and changes none") {
    fixture f{Backend::make};
    auto woken = f.put(f.make_sleeper("te_woken", "w1", 1s));
    auto waiting = f.put(f.make_sleeper("te_waiting", "w2", 1s));
    auto body = f.make_row("te_body");
    body.expires_at = f.clock.now();
    f.put(body);
    f.claim_one("te_body");
    REQUIRE(f.apply(f.finish(woken, execution_status::completed)).status
            == write_status::applied);
    f.clock.advance(1h);
    auto scan = f.store->scan_sleepers(10);
    CHECK(ids_of(scan.expired) == std::vector<std::string>{"te_waiting"});
    CHECK_FALSE(scan.next_deadline.has_value());
    check_same_row(waiting, f.must_get("te_waiting"));
    check_same_row(waiting, scan.expired.at(0));
  }

  DURABLE_CONFORMANCE_CASE(
    "watch sets the watched flag without a version bump") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    auto w = f.store->watch("te_x");
    REQUIRE(w.has_value());
    auto expected = r;
    expected.watched = true;
    check_same_row(expected, *w);
    check_same_row(expected, f.must_get("te_x"));
    CHECK(f.store->watch("te_x")->version == r.version);
    CHECK_FALSE(f.store->watch("te_unknown").has_value());
    CHECK_FALSE(f.store->get("te_unknown").has_value());
  }

  DURABLE_CONFORMANCE_CASE("erase removes a row from every query") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    f.put({f.make_child(p, "te_c0", 0), f.make_child(p, "te_c1", 1)});
    f.put(f.make_sleeper("te_s", "wake", 1s));
    CHECK(f.store->erase("te_c0"));
    CHECK(f.store->erase("te_s"));
    CHECK_FALSE(f.store->erase("te_c0"));
    CHECK_FALSE(f.store->erase("te_unknown"));
    CHECK_FALSE(f.store->get("te_c0").has_value());
    CHECK(ids_of(f.store->children_of("te_p"))
          == std::vector<std::string>{"te_c1"});
    CHECK_FALSE(f.store->get_by_sleeping_id("wake").has_value());
    f.clock.advance(1h);
    CHECK(f.store->scan_sleepers(10).expired.empty());
    auto claimed = ids_of(f.claim("owner_a", {"task_a", "task_child"}).claimed);
    std::sort(claimed.begin(), claimed.end());
    CHECK(claimed == std::vector<std::string>{"te_c1", "te_p"});
    auto t = f.touch(f.make_row("te_c0"));
    CHECK(f.apply(t).status == write_status::not_found);
  }

  DURABLE_CONFORMANCE_CASE(
    "erase frees the id and sleeping id and idempotency key") {
    fixture f{Backend::make};
    auto s = f.make_sleeper("te_s", "wake");
    s.idempotency_key = "key";
    f.put(s);
    REQUIRE(f.store->erase("te_s"));
    auto again = f.make_sleeper("te_s", "wake");
    again.idempotency_key = "key";
    again.input = "\"second\"";
    auto stored = f.put(again);
    CHECK(stored.input == "\"second\"");
    CHECK(f.store->get_by_sleeping_id("wake")->input == "\"second\"");
  }

  DURABLE_CONFORMANCE_CASE("now is the store clock") {
    fixture f{Backend::make};
    CHECK(f.store->now() == f.clock.now());
    f.clock.advance(1234567us);
    CHECK(f.store->now() == f.clock.now());
  }

} // TEST_SUITE

TEST_SUITE("storage.conformance.backlog") {
  DURABLE_CONFORMANCE_CASE(
    "ready_backlog counts due ready rows per task with the oldest start") {
    fixture f{Backend::make};
    CHECK(f.store->ready_backlog().empty());
    const auto start = f.clock.now();
    auto a1 = f.make_row("te_a1", "task_a");
    a1.start_at = start - 5s;
    auto a2 = f.make_row("te_a2", "task_a");
    auto a_later = f.make_row("te_a3", "task_a");
    a_later.start_at = start + 10s; // not due: no backlog yet
    auto b1 = f.make_row("te_b1", "task_b");
    b1.start_at = start - 1s;
    auto c_later = f.make_row("te_c1", "task_c");
    c_later.start_at = start + 10s;
    f.put({a1, a2, a_later, b1, c_later,
           f.make_sleeper("te_s", "wake_1")}); // running: not ready
    CHECK(f.store->ready_backlog()
          == std::vector<ready_backlog_entry>{{"task_a", 2, start - 5s},
                                              {"task_b", 1, start - 1s}});
    // A claimed row leaves the backlog; rows falling due join it.
    auto got = f.claim("owner_a", {"task_b"});
    REQUIRE(got.claimed.size() == 1);
    f.clock.advance(10s);
    CHECK(f.store->ready_backlog()
          == std::vector<ready_backlog_entry>{{"task_a", 3, start - 5s},
                                              {"task_c", 1, start + 10s}});
  }
}
