#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

// executor_options::claim_on_insert: new rows this node can start at once
// are stored already claimed by it, so no claim returns them; rows that
// find no free slot are stored ready and go through a claim as before.

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::eventually;
using engine_test::test_options;

namespace {

bool contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

/// Never blocks: a node takes as many of these on insert as it has free
/// slots (a blocking task only as many as it has worker threads, see
/// body_start_test.cpp).
durable::task_ref<int, int> incrementer(durable::executor& exec) {
  return exec.task<int, int>({.id = "inc", .timeout = 10s, .may_block = false},
                             [](durable::task_context&, int x) {
                               return x + 1;
                             });
}

/// Runs one execution to its end: by then the node's first claim has
/// answered, and a node takes new rows only once it knows that no older
/// ready rows are waiting in the store.
void warm_up(durable::executor& exec, const durable::task_ref<int, int>& t) {
  REQUIRE(await(exec.enqueue(t, 0)).ok());
}

} // namespace

TEST_SUITE("integration.claim_on_insert") {
  TEST_CASE(
    "executions enqueued on a node with free slots run without a claim") {
    auto db = std::make_shared<engine_test::recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    warm_up(exec, inc);
    std::vector<int> inputs(20);
    for (int i = 0; i < 20; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto hs = exec.enqueue_many(inc, inputs);
    for (std::size_t i = 0; i < hs.size(); ++i) {
      auto r = await(hs[i]);
      REQUIRE(r.ok());
      CHECK(r.output == static_cast<int>(i) + 1);
      CHECK(r.execution.recoveries == 0);
      CHECK_FALSE(contains(db->claimed_ids(), hs[i].execution_id()));
    }
  }

  TEST_CASE("children and the finalize task of a local parent run without a "
            "claim") {
    auto db = std::make_shared<engine_test::recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    warm_up(exec, inc);
    using fin_input = durable::finalize_input<std::string, int>;
    auto fin = exec.task<fin_input, int>({.id = "sum", .timeout = 10s},
                                         [](durable::task_context&,
                                            const fin_input& in) {
                                           int sum = 0;
                                           for (const auto& c : in.children)
                                             sum += c.output().value_or(-1000);
                                           return sum;
                                         });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "fan", .timeout = 10s},
      [inc](durable::task_context&, int n) {
        durable::parent_output<std::string> out{.output = "fanned"};
        for (int i = 0; i < n; ++i)
          out.children.add(inc, i);
        return out;
      },
      fin);
    auto r = await(exec.enqueue(parent, 10));
    REQUIRE(r.ok());
    CHECK(r.output == 55); // (0+1) + ... + (9+1)
    REQUIRE(r.execution.children.size() == 10);
    REQUIRE(r.execution.finalize.has_value());
    auto claimed = db->claimed_ids();
    CHECK_FALSE(contains(claimed, r.execution.id));
    for (const auto& kid : r.execution.children)
      CHECK_FALSE(contains(claimed, kid.execution_id));
    CHECK_FALSE(contains(claimed, r.execution.finalize->execution_id));
  }

  TEST_CASE("an execution that finds no free slot is stored ready and claimed "
            "once a slot frees") {
    auto db = std::make_shared<engine_test::recording_store>();
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{db, opts};
    std::atomic<bool> open{false};
    auto held = exec.task<int, int>({.id = "held", .timeout = 30s},
                                    [&](durable::task_context& ctx, int x) {
                                      engine_test::block_until(open, ctx);
                                      return x;
                                    });
    auto first = exec.enqueue(held, 1);
    REQUIRE(engine_test::reaches(exec, first.execution_id(),
                                 execution_status::running));
    REQUIRE(eventually([&] { return exec.running_count() == 1; }));
    auto second = exec.enqueue(held, 2);
    CHECK(exec.get(second.execution_id()).status == execution_status::ready);
    CHECK_FALSE(exec.get(second.execution_id()).owner.has_value());
    open = true;
    CHECK(await(first).output == 1);
    CHECK(await(second).output == 2);
    CHECK(contains(db->claimed_ids(), second.execution_id()));
  }

  TEST_CASE("with claim_on_insert off every execution goes through a claim") {
    auto db = std::make_shared<engine_test::recording_store>();
    auto opts = test_options();
    opts.claim_on_insert = false;
    durable::executor exec{db, opts};
    auto inc = incrementer(exec);
    auto hs = exec.enqueue_many(inc, {1, 2, 3, 4, 5});
    for (auto& h : hs)
      CHECK(await(h).ok());
    auto claimed = db->claimed_ids();
    for (auto& h : hs)
      CHECK(contains(claimed, h.execution_id()));
  }

} // TEST_SUITE
