#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using engine_test::await;
using engine_test::test_options;

namespace {

constexpr const char* traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                                    "00f067aa0ba902b7-01";

/// What each body saw as its trace context, by task.
struct seen_contexts {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::optional<std::string>>> runs;

  void record(const durable::task_context& ctx) {
    std::lock_guard guard{mutex};
    runs.emplace_back(ctx.task_id, ctx.traceparent);
  }
};

/// A tree of every kind that hands work down: a parent whose children are
/// plain tasks and a sequence of two steps, and a finalize task.
struct traced_tree {
  durable::task_ref<std::vector<int>, std::string> parent;

  traced_tree(durable::executor& exec, seen_contexts& seen) {
    auto leaf = exec.task<int, int>({.id = "tc_leaf", .timeout = 5s},
                                    [&seen](durable::task_context& ctx, int x) {
                                      seen.record(ctx);
                                      return x + 1;
                                    });
    auto step = exec.task<int, int>({.id = "tc_step", .timeout = 5s},
                                    [&seen](durable::task_context& ctx, int x) {
                                      seen.record(ctx);
                                      return x * 10;
                                    });
    auto chain = exec.sequence("tc_chain", step, step);
    using fin_input = durable::finalize_input<std::string, int>;
    auto fin = exec.task<fin_input, std::string>(
      {.id = "tc_fin", .timeout = 5s},
      [&seen](durable::task_context& ctx, const fin_input& in) {
        seen.record(ctx);
        return in.output + ":" + std::to_string(in.children.size());
      });
    parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "tc_parent", .timeout = 5s},
      [&seen, leaf, chain](durable::task_context& ctx,
                           const std::vector<int>& xs) {
        seen.record(ctx);
        durable::parent_output<std::string> out{.output = "spawned"};
        for (int x : xs)
          out.children.add(leaf, x);
        out.children.add(chain, 1);
        return out;
      },
      fin);
  }
};

/// Every row of the tree under (and including) `id`.
void collect_tree(durable::executor& exec, const std::string& id,
                  std::vector<durable::execution_record>& out) {
  auto r = exec.get(id);
  out.push_back(r);
  for (const auto& c : r.children)
    collect_tree(exec, c.execution_id, out);
  if (r.finalize)
    collect_tree(exec, r.finalize->execution_id, out);
}

} // namespace

TEST_SUITE("integration.trace_context") {
  TEST_CASE("a traceparent given at enqueue reaches every row and body of the "
            "tree") {
    durable::executor exec{durable::test::make_store(), test_options()};
    seen_contexts seen;
    traced_tree tree{exec, seen};
    auto r = await(exec.enqueue(tree.parent, std::vector<int>{1, 2},
                                {.traceparent = traceparent}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:3");

    std::vector<durable::execution_record> rows;
    collect_tree(exec, r.execution.id, rows);
    // The parent, two leaves, the chain and its two steps, the finalize.
    CHECK(rows.size() == 7);
    for (const auto& row : rows) {
      INFO("execution " << row.id << " of " << row.task_id);
      CHECK(row.traceparent == std::string_view{traceparent});
    }

    std::lock_guard guard{seen.mutex};
    // The parent, two leaves, two steps, the finalize.
    CHECK(seen.runs.size() == 6);
    for (const auto& run : seen.runs) {
      INFO("a run of " << run.first);
      CHECK(run.second == std::optional<std::string>{traceparent});
    }
  }

  TEST_CASE("a tree enqueued without a traceparent carries none") {
    durable::executor exec{durable::test::make_store(), test_options()};
    seen_contexts seen;
    traced_tree tree{exec, seen};
    auto r = await(exec.enqueue(tree.parent, std::vector<int>{1}));
    REQUIRE(r.ok());
    std::vector<durable::execution_record> rows;
    collect_tree(exec, r.execution.id, rows);
    for (const auto& row : rows)
      CHECK_FALSE(row.traceparent.has_value());
    std::lock_guard guard{seen.mutex};
    for (const auto& run : seen.runs)
      CHECK_FALSE(run.second.has_value());
  }

  TEST_CASE("a malformed traceparent is refused at enqueue and stores "
            "nothing") {
    durable::executor exec{durable::test::make_store(), test_options()};
    seen_contexts seen;
    traced_tree tree{exec, seen};
    const std::string upper = "00-4BF92F3577B34DA6A3CE929D0E0E4736-"
                              "00f067aa0ba902b7-01";
    try {
      (void)exec.enqueue(tree.parent, std::vector<int>{1},
                         {.traceparent = upper});
      FAIL("a malformed traceparent was accepted");
    } catch (const durable::error& e) {
      CHECK_FALSE(e.is_retryable());
      CHECK(std::string{e.what()}.starts_with(
        "Invalid traceparent: the trace id is not 32 lowercase hex digits"));
    }
    durable::list_request req;
    req.filter.task_id = "tc_parent";
    CHECK(exec.storage()->list(req).rows.empty());
  }

  TEST_CASE("a later version's traceparent is stored as its first four "
            "fields") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto t = exec.task<int, int>({.id = "tc_plain", .timeout = 5s},
                                 [](durable::task_context& ctx, int x) {
                                   return ctx.traceparent ? x : -1;
                                 });
    std::string later = traceparent;
    later[1] = '1';
    auto r = await(exec.enqueue(t, 5, {.traceparent = later + "-future"}));
    CHECK(r.output == 5);
    CHECK(r.execution.traceparent == std::string_view{later});
  }
}
