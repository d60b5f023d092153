#include "durable/error.hpp"
#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

namespace {

/// Pages through a listing `limit` rows at a time; returns every page's ids.
std::vector<std::vector<std::string>>
pages_of(durable::store& s, execution_filter filter, std::size_t limit,
         bool oldest_first = false) {
  std::vector<std::vector<std::string>> pages;
  list_request req{std::move(filter), limit, {}, oldest_first};
  for (int guard = 0; guard < 100; ++guard) {
    auto page = s.list(req);
    pages.push_back(ids_of(page.rows));
    if (page.next_cursor.empty())
      return pages;
    req.cursor = page.next_cursor;
  }
  FAIL("the listing never ended");
  return pages;
}

} // namespace

TEST_SUITE("storage.conformance.list") {
  DURABLE_CONFORMANCE_CASE("list pages newest first by creation time then id") {
    fixture f{Backend::make};
    f.put(f.make_row("te_old"));
    f.clock.advance(1s);
    // Same creation time: the larger id comes first.
    f.put(
      {f.make_row("te_mid_a"), f.make_row("te_mid_c"), f.make_row("te_mid_b")});
    f.clock.advance(1s);
    f.put(f.make_row("te_new"));
    auto pages = pages_of(*f.store, {}, 2);
    CHECK(pages
          == std::vector<std::vector<std::string>>{
            {"te_new", "te_mid_c"}, {"te_mid_b", "te_mid_a"}, {"te_old"}});
    auto all = f.store->list({{}, 10, {}});
    CHECK(all.next_cursor.empty());
    REQUIRE(all.rows.size() == 5);
    check_same_row(f.must_get("te_mid_c"), all.rows[1]);
    // Exactly one page's worth: no cursor to an empty page.
    CHECK(f.store->list({{}, 5, {}}).next_cursor.empty());
  }

  DURABLE_CONFORMANCE_CASE("list paging neither repeats nor skips when rows "
                           "are added between pages") {
    fixture f{Backend::make};
    for (int i = 0; i < 4; ++i) {
      f.put(f.make_row("te_r" + std::to_string(i)));
      f.clock.advance(1s);
    }
    auto first = f.store->list({{}, 2, {}});
    CHECK(ids_of(first.rows) == std::vector<std::string>{"te_r3", "te_r2"});
    REQUIRE_FALSE(first.next_cursor.empty());
    f.put(f.make_row("te_later"));
    auto second = f.store->list({{}, 2, first.next_cursor});
    CHECK(ids_of(second.rows) == std::vector<std::string>{"te_r1", "te_r0"});
    // The first page of a fresh listing sees the new row.
    CHECK(ids_of(f.store->list({{}, 1, {}}).rows)
          == std::vector<std::string>{"te_later"});
  }

  DURABLE_CONFORMANCE_CASE("list filters by status and task and parent and "
                           "creation time") {
    fixture f{Backend::make};
    auto start = f.clock.now();
    auto p = f.put(f.make_row("te_p", "task_a"));
    f.clock.advance(1s);
    f.put({f.make_child(p, "te_c0", 0), f.make_child(p, "te_c1", 1)});
    f.put(f.make_row("te_b", "task_b"));
    f.clock.advance(1s);
    auto done = f.put(f.make_row("te_done", "task_a"));
    auto claimed = f.claim_one("te_p");
    f.claim("owner_a", {"task_a"}, 1); // takes te_done
    auto running = f.must_get("te_done");
    REQUIRE(running.status == execution_status::running);
    REQUIRE(f.apply(f.finish(running, execution_status::failed)).status
            == write_status::applied);

    auto ids = [&](execution_filter filter) {
      return ids_of(f.store->list({std::move(filter), 100, {}}).rows);
    };
    CHECK(ids({.statuses = {execution_status::ready}})
          == std::vector<std::string>{"te_c1", "te_c0", "te_b"});
    CHECK(
      ids({.statuses = {execution_status::failed, execution_status::running}})
      == std::vector<std::string>{"te_done", "te_p"});
    CHECK(ids({.task_id = "task_a"})
          == std::vector<std::string>{"te_done", "te_p"});
    CHECK(ids({.task_id = "task_unknown"}).empty());
    CHECK(ids({.parent_id = "te_p"})
          == std::vector<std::string>{"te_c1", "te_c0"});
    CHECK(ids({.parent_id = "te_b"}).empty());
    CHECK(ids({.created_from = start + 1s})
          == std::vector<std::string>{"te_done", "te_c1", "te_c0", "te_b"});
    CHECK(ids({.created_before = start + 1s})
          == std::vector<std::string>{"te_p"});
    CHECK(ids({.created_from = start + 1s, .created_before = start + 2s})
          == std::vector<std::string>{"te_c1", "te_c0", "te_b"});
    CHECK(ids({.statuses = {execution_status::ready},
               .task_id = "task_child",
               .parent_id = "te_p",
               .created_from = start})
          == std::vector<std::string>{"te_c1", "te_c0"});
    // Filters hold across pages.
    CHECK(
      pages_of(*f.store, {.statuses = {execution_status::ready}}, 1)
      == std::vector<std::vector<std::string>>{{"te_c1"}, {"te_c0"}, {"te_b"}});
    (void)done;
    (void)claimed;
  }

  DURABLE_CONFORMANCE_CASE("list refuses a limit out of range and a forged "
                           "cursor") {
    fixture f{Backend::make};
    f.put(f.make_row("te_x"));
    CHECK_THROWS_AS(f.store->list({{}, 0, {}}), durable::error);
    CHECK_THROWS_AS(f.store->list({{}, list_request::max_limit + 1, {}}),
                    durable::error);
    CHECK_THROWS_WITH_AS(f.store->list({{}, 10, "not-a-cursor"}),
                         doctest::Contains("Invalid cursor"), durable::error);
    CHECK_THROWS_AS(f.store->list({{}, 10, "c1zz.00"}), durable::error);
    CHECK_THROWS_AS(f.store->list({{}, 10, "c1ff.0"}), durable::error);
    CHECK(f.store->list({{}, list_request::max_limit, {}}).rows.size() == 1);
  }

  DURABLE_CONFORMANCE_CASE("count_by_status counts the rows a filter matches") {
    fixture f{Backend::make};
    auto start = f.clock.now();
    CHECK(f.store->count_by_status({}).empty());
    auto p = f.put(f.make_row("te_p"));
    f.clock.advance(1s);
    f.put({f.make_child(p, "te_c0", 0), f.make_child(p, "te_c1", 1),
           f.make_child(p, "te_c2", 2)});
    f.put(f.make_row("te_q"));
    auto running = f.claim_one("te_p");
    REQUIRE(f.apply(f.finish(running, execution_status::completed)).status
            == write_status::applied);
    CHECK(f.store->count_by_status({})
          == status_counts{{execution_status::ready, 4},
                           {execution_status::completed, 1}});
    CHECK(f.store->count_by_status({.parent_id = "te_p"})
          == status_counts{{execution_status::ready, 3}});
    CHECK(f.store->count_by_status({.task_id = "task_a"})
          == status_counts{{execution_status::ready, 1},
                           {execution_status::completed, 1}});
    CHECK(f.store->count_by_status({.statuses = {execution_status::completed}})
          == status_counts{{execution_status::completed, 1}});
    CHECK(f.store->count_by_status({.created_before = start + 1s})
          == status_counts{{execution_status::completed, 1}});
  }

  DURABLE_CONFORMANCE_CASE("list filters by root and key and sleeping id and "
                           "error text") {
    fixture f{Backend::make};
    auto keyed = f.make_row("te_keyed");
    keyed.idempotency_key = "order-42";
    f.put(keyed);
    f.clock.advance(1s);
    auto p = f.put(f.make_row("te_p"));
    f.clock.advance(1s);
    f.put({f.make_child(p, "te_c0", 0), f.make_child(p, "te_c1", 1)});
    f.put(f.make_sleeper("te_sleeper", "approval-7"));
    f.put(f.make_row("te_other", "task_b"));
    // Two finished with errors, one of them with markup in its message.
    auto b = f.claim_one("te_keyed");
    auto a = f.claim_one("te_p");
    REQUIRE(f.apply(f.finish(a, execution_status::failed,
                             "card declined: <b>insufficient</b> funds"))
              .status
            == write_status::applied);
    REQUIRE(f.apply(f.finish(b, execution_status::failed,
                             "timeout talking to "
                             "the bank"))
              .status
            == write_status::applied);

    auto ids = [&](execution_filter filter) {
      return ids_of(f.store->list({std::move(filter), 100, {}}).rows);
    };
    CHECK(ids({.root_id = "te_p"})
          == std::vector<std::string>{"te_c1", "te_c0", "te_p"});
    CHECK(ids({.root_id = "te_other"}) == std::vector<std::string>{"te_other"});
    CHECK(ids({.root_id = "te_none"}).empty());
    CHECK(ids({.idempotency_key = "order-42"})
          == std::vector<std::string>{"te_keyed"});
    CHECK(ids({.idempotency_key = "order-43"}).empty());
    CHECK(ids({.sleeping_id = "approval-7"})
          == std::vector<std::string>{"te_sleeper"});
    CHECK(ids({.sleeping_id = "approval-8"}).empty());
    CHECK(ids({.error_contains = "declined"})
          == std::vector<std::string>{"te_p"});
    CHECK(ids({.error_contains = "<b>insufficient</b>"})
          == std::vector<std::string>{"te_p"});
    CHECK(ids({.error_contains = "bank"})
          == std::vector<std::string>{"te_keyed"});
    // Case-sensitive, and rows without an error never match.
    CHECK(ids({.error_contains = "Bank"}).empty());
    CHECK(ids({.statuses = {execution_status::failed}, .error_contains = "a"})
          == std::vector<std::string>{"te_p", "te_keyed"});
    CHECK(f.store->count_by_status({.error_contains = "card"})
          == status_counts{{execution_status::failed, 1}});
    CHECK(f.store->count_by_status({.root_id = "te_p"})
          == status_counts{{execution_status::ready, 2},
                           {execution_status::failed, 1}});
  }

  DURABLE_CONFORMANCE_CASE("list pages oldest first when asked") {
    fixture f{Backend::make};
    f.put(f.make_row("te_old"));
    f.clock.advance(1s);
    f.put(
      {f.make_row("te_mid_a"), f.make_row("te_mid_c"), f.make_row("te_mid_b")});
    f.clock.advance(1s);
    f.put(f.make_row("te_new"));
    CHECK(pages_of(*f.store, {}, 2, true)
          == std::vector<std::vector<std::string>>{
            {"te_old", "te_mid_a"}, {"te_mid_b", "te_mid_c"}, {"te_new"}});
    // Filters hold in either order.
    CHECK(
      ids_of(f.store->list({{.created_from = f.clock.now() - 1s}, 10, {}, true})
               .rows)
      == std::vector<std::string>{"te_mid_a", "te_mid_b", "te_mid_c",
                                  "te_new"});
  }

} // TEST_SUITE
