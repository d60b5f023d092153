#include <optional>
#include <string>
#include <vector>

#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

namespace {

/// `r` as it ends in `s` at `at` (stored finished from the start: prune
/// reads only what is stored, not how it got there).
execution_record ended(execution_record r, execution_status s, timestamp at) {
  r.status = s;
  r.finished_at = at;
  r.closed_at = at;
  r.updated_at = at;
  if (s != execution_status::completed)
    r.error = execution_error{error_kind::generic, "boom", false, false};
  else
    r.output = "1";
  return r;
}

prune_request older_than(const fixture& f, std::chrono::microseconds age,
                         std::vector<execution_status> statuses,
                         std::size_t limit = 100) {
  prune_request req;
  req.statuses = std::move(statuses);
  req.finished_before = f.clock.now() - age;
  req.limit = limit;
  return req;
}

bool exists(fixture& f, const std::string& id) {
  return f.store->get(id).has_value();
}

} // namespace

TEST_SUITE("storage.conformance.prune") {
  DURABLE_CONFORMANCE_CASE(
    "prune removes old finished root trees with every descendant") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(3h);
    const auto old = t0 + 1h; // two hours before now
    using st = execution_status;
    // A: an old completed tree three levels deep, with a finalize.
    auto a = ended(f.make_row("te_a"), st::completed, old);
    auto a1 = ended(f.make_child(a, "te_a1", 0), st::completed, old);
    auto a1x = ended(f.make_child(a1, "te_a1x", 0), st::completed, old);
    auto afin = ended(f.make_child(a, "te_afin", 0, true), st::completed, old);
    // B: completed too recently.
    auto b = ended(f.make_row("te_b"), st::completed, f.clock.now() - 10min);
    // C: an unfinished root with an old finished child.
    auto c = f.make_row("te_c");
    auto c1 = ended(f.make_child(c, "te_c1", 0), st::completed, old);
    // D: old, but failed; E: old, cancelled, with a cancelled child.
    auto d = ended(f.make_row("te_d"), st::failed, old);
    auto e = ended(f.make_row("te_e"), st::cancelled, old);
    auto e1 = ended(f.make_child(e, "te_e1", 0), st::cancelled, old);
    // G: an old finished root above an unfinished row (only a bug makes
    // one): kept whole rather than leaving an orphan behind.
    auto g = ended(f.make_row("te_g"), st::completed, old);
    auto g1 = f.make_child(g, "te_g1", 0);
    f.put({a, a1, a1x, afin, b, c, c1, d, e, e1, g, g1});

    auto out = f.store->prune(older_than(f, 1h, {st::completed}));
    CHECK(out.roots == 1);
    CHECK(out.rows == 4);
    for (auto id : {"te_a", "te_a1", "te_a1x", "te_afin"})
      CHECK_MESSAGE(!exists(f, id), id);
    for (auto id :
         {"te_b", "te_c", "te_c1", "te_d", "te_e", "te_e1", "te_g", "te_g1"})
      CHECK_MESSAGE(exists(f, id), id);
    CHECK(f.store->children_of("te_a").empty());

    // Several statuses in one call.
    out = f.store->prune(older_than(f, 1h, {st::failed, st::cancelled}));
    CHECK(out.roots == 2);
    CHECK(out.rows == 3);
    for (auto id : {"te_d", "te_e", "te_e1"})
      CHECK_MESSAGE(!exists(f, id), id);
    for (auto id : {"te_b", "te_c", "te_c1", "te_g", "te_g1"})
      CHECK_MESSAGE(exists(f, id), id);

    // Nothing else is old enough, or finished.
    out = f.store->prune(older_than(f, 1h,
                                    {st::completed, st::failed, st::timed_out,
                                     st::finalize_failed, st::cancelled}));
    CHECK(out.roots == 0);
    CHECK(out.rows == 0);
    CHECK(exists(f, "te_b"));
  }

  DURABLE_CONFORMANCE_CASE(
    "prune removes at most limit roots per call oldest first") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(10h);
    std::vector<execution_record> rows;
    // Ids against finish order on purpose.
    for (int i = 0; i < 5; ++i) {
      auto r = ended(f.make_row("te_r" + std::to_string(4 - i)),
                     execution_status::timed_out, t0 + std::chrono::hours{i});
      rows.push_back(f.make_child(r, "te_k" + std::to_string(4 - i), 0));
      rows.back() = ended(rows.back(), execution_status::cancelled,
                          t0 + std::chrono::hours{i});
      rows.push_back(r);
    }
    f.put(rows);
    auto req = older_than(f, 1h, {execution_status::timed_out}, 2);
    auto out = f.store->prune(req);
    CHECK(out.roots == 2);
    CHECK(out.rows == 4);
    CHECK_FALSE(exists(f, "te_r4"));
    CHECK_FALSE(exists(f, "te_r3"));
    CHECK(exists(f, "te_r2"));
    out = f.store->prune(req);
    CHECK(out.roots == 2);
    CHECK_FALSE(exists(f, "te_r2"));
    CHECK_FALSE(exists(f, "te_k1"));
    CHECK(exists(f, "te_r0"));
    out = f.store->prune(req);
    CHECK(out.roots == 1);
    CHECK(out.rows == 2);
    out = f.store->prune(req);
    CHECK(out.roots == 0);
  }

  DURABLE_CONFORMANCE_CASE("prune keeps other tasks when given a task") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(2h);
    f.put(
      {ended(f.make_row("te_a", "task_a"), execution_status::completed, t0),
       ended(f.make_row("te_b", "task_b"), execution_status::completed, t0)});
    auto req = older_than(f, 1h, {execution_status::completed});
    req.task_id = "task_b";
    auto out = f.store->prune(req);
    CHECK(out.roots == 1);
    CHECK(exists(f, "te_a"));
    CHECK_FALSE(exists(f, "te_b"));
  }

  DURABLE_CONFORMANCE_CASE("prune leaves the whole trees of excluded tasks") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(3h);
    using st = execution_status;
    // Old completed trees of three tasks, each with a child and a grandchild.
    std::vector<execution_record> rows;
    for (std::string task : {"task_a", "task_b", "task_c"}) {
      auto r = ended(f.make_row("te_" + task, task), st::completed, t0);
      auto c = ended(f.make_child(r, "te_" + task + "_1", 0), st::completed,
                     t0);
      auto g = ended(f.make_child(c, "te_" + task + "_1x", 0), st::completed,
                     t0);
      rows.insert(rows.end(), {r, c, g});
    }
    f.put(rows);
    auto req = older_than(f, 1h, {st::completed});
    req.except_tasks = {"task_b", "task_c"};
    auto out = f.store->prune(req);
    CHECK(out.roots == 1);
    CHECK(out.rows == 3);
    for (auto id : {"te_task_a", "te_task_a_1", "te_task_a_1x"})
      CHECK_MESSAGE(!exists(f, id), id);
    for (auto id : {"te_task_b", "te_task_b_1", "te_task_b_1x", "te_task_c",
                    "te_task_c_1", "te_task_c_1x"})
      CHECK_MESSAGE(exists(f, id), id);
    CHECK(f.store->prune(req).roots == 0);
    // A task that is not excluded any more goes.
    req.except_tasks = {"task_c"};
    out = f.store->prune(req);
    CHECK(out.roots == 1);
    CHECK(out.rows == 3);
    CHECK_FALSE(exists(f, "te_task_b_1x"));
    CHECK(exists(f, "te_task_c_1x"));
  }

  DURABLE_CONFORMANCE_CASE(
    "an exclusion combines with statuses finished_before and a task") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(3h);
    using st = execution_status;
    const auto recent = f.clock.now() - 10min;
    f.put({
      ended(f.make_row("te_a_old", "task_a"), st::completed, t0),
      ended(f.make_row("te_a_failed", "task_a"), st::failed, t0),
      ended(f.make_row("te_a_new", "task_a"), st::completed, recent),
      ended(f.make_row("te_b_old", "task_b"), st::completed, t0),
      ended(f.make_row("te_b_failed", "task_b"), st::failed, t0),
      ended(f.make_row("te_c_old", "task_c"), st::cancelled, t0),
      ended(f.make_row("te_c_new", "task_c"), st::cancelled, recent),
    });
    auto req = older_than(f, 1h, {st::completed, st::cancelled});
    req.except_tasks = {"task_b"};
    auto out = f.store->prune(req);
    CHECK(out.roots == 2);
    for (auto id : {"te_a_old", "te_c_old"})
      CHECK_MESSAGE(!exists(f, id), id);
    for (auto id :
         {"te_a_failed", "te_a_new", "te_b_old", "te_b_failed", "te_c_new"})
      CHECK_MESSAGE(exists(f, id), id);
    // Named and excluded tasks together: the named one, minus the others.
    req = older_than(f, 1h, {st::failed});
    req.task_id = "task_b";
    req.except_tasks = {"task_a"};
    out = f.store->prune(req);
    CHECK(out.roots == 1);
    CHECK_FALSE(exists(f, "te_b_failed"));
    CHECK(exists(f, "te_a_failed"));
    // Naming an excluded task is refused.
    req.except_tasks = {"task_a", "task_b"};
    CHECK_THROWS_AS(f.store->prune(req), durable::error);
    CHECK(exists(f, "te_b_old"));
  }

  DURABLE_CONFORMANCE_CASE("a dry run counts without the excluded tasks") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(2h);
    std::vector<execution_record> rows;
    for (int i = 0; i < 4; ++i) {
      const std::string task = i % 2 == 0 ? "task_even" : "task_odd";
      auto r = ended(f.make_row("te_r" + std::to_string(i), task),
                     execution_status::timed_out, t0);
      for (int k = 0; k <= i; ++k)
        rows.push_back(ended(
          f.make_child(r, "te_r" + std::to_string(i) + "_" + std::to_string(k),
                       static_cast<std::uint32_t>(k)),
          execution_status::cancelled, t0));
      rows.push_back(r);
    }
    f.put(rows);
    // task_odd: roots 1 and 3, with 2 and 4 children.
    auto req = older_than(f, 1h, {execution_status::timed_out}, 1);
    req.dry_run = true;
    req.except_tasks = {"task_even"};
    auto counted = f.store->prune(req);
    CHECK(counted.roots == 2);
    CHECK(counted.rows == 8);
    for (const auto& r : rows)
      CHECK_MESSAGE(exists(f, r.id), r.id);
    req.dry_run = false;
    req.limit = 100;
    auto removed = f.store->prune(req);
    CHECK(removed.roots == counted.roots);
    CHECK(removed.rows == counted.rows);
    CHECK(exists(f, "te_r0"));
    CHECK(exists(f, "te_r2_2"));
    CHECK_FALSE(exists(f, "te_r3_3"));
  }

  DURABLE_CONFORMANCE_CASE(
    "pruned ids sleeping ids and idempotency keys can be used again") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(2h);
    auto keyed = f.make_row("te_keyed");
    keyed.idempotency_key = "key_1";
    f.put({ended(f.make_sleeper("te_sleeper", "wake_1"),
                 execution_status::completed, t0),
           ended(keyed, execution_status::failed, t0)});
    auto again_sleeper = f.make_sleeper("te_sleeper2", "wake_1");
    auto again_keyed = f.make_row("te_keyed2");
    again_keyed.idempotency_key = "key_1";
    auto before = f.store->insert({again_sleeper, again_keyed});
    REQUIRE(before.size() == 2);
    CHECK(before[0].result == insert_outcome::kind::duplicate_sleeping_id);
    CHECK(before[1].result == insert_outcome::kind::duplicate_key);

    auto out = f.store->prune(older_than(
      f, 1h, {execution_status::completed, execution_status::failed}));
    CHECK(out.roots == 2);
    CHECK_FALSE(f.store->get_by_sleeping_id("wake_1").has_value());
    f.put({again_sleeper, again_keyed});
    CHECK(f.must_get("te_keyed2").idempotency_key == "key_1");
    CHECK(f.store->get_by_sleeping_id("wake_1")->id == "te_sleeper2");
    // The very ids too.
    f.put(f.make_row("te_keyed"));
  }

  DURABLE_CONFORMANCE_CASE(
    "a dry run counts what prune calls remove and removes nothing") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(2h);
    std::vector<execution_record> rows;
    for (int i = 0; i < 3; ++i) {
      auto r = ended(f.make_row("te_r" + std::to_string(i)),
                     execution_status::finalize_failed, t0);
      for (int k = 0; k <= i; ++k)
        rows.push_back(ended(
          f.make_child(r, "te_r" + std::to_string(i) + "_" + std::to_string(k),
                       static_cast<std::uint32_t>(k)),
          execution_status::completed, t0));
      rows.push_back(r);
    }
    rows.push_back(ended(f.make_row("te_new"),
                         execution_status::finalize_failed, f.clock.now()));
    f.put(rows);
    auto req = older_than(f, 1h, {execution_status::finalize_failed}, 1);
    req.dry_run = true;
    auto counted = f.store->prune(req);
    CHECK(counted.roots == 3);
    CHECK(counted.rows == 9);
    CHECK(f.store->prune(req).roots == 3); // removed nothing
    for (const auto& r : rows)
      CHECK_MESSAGE(exists(f, r.id), r.id);
    req.dry_run = false;
    prune_result removed;
    for (int calls = 0; calls < 10; ++calls) {
      auto out = f.store->prune(req);
      if (out.roots == 0)
        break;
      CHECK(out.roots == 1);
      removed.roots += out.roots;
      removed.rows += out.rows;
    }
    CHECK(removed.roots == counted.roots);
    CHECK(removed.rows == counted.rows);
    CHECK(exists(f, "te_new"));
  }

  DURABLE_CONFORMANCE_CASE(
    "prune refuses unfinished statuses and limits out of range") {
    fixture f{Backend::make};
    const auto t0 = f.clock.now();
    f.clock.advance(2h);
    f.put(ended(f.make_row("te_a"), execution_status::completed, t0));
    auto req = older_than(f, 1h, {execution_status::completed});
    req.statuses.push_back(execution_status::running);
    CHECK_THROWS_AS(f.store->prune(req), durable::error);
    req.statuses = {};
    CHECK_THROWS_AS(f.store->prune(req), durable::error);
    req = older_than(f, 1h, {execution_status::completed}, 0);
    CHECK_THROWS_AS(f.store->prune(req), durable::error);
    req.limit = prune_request::max_limit + 1;
    CHECK_THROWS_AS(f.store->prune(req), durable::error);
    CHECK(exists(f, "te_a"));
  }
}
