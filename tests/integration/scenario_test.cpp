// REFERENCE §6.3 Part A: one run that enqueues every kind of work at once
// and checks each outcome, on one executor, on two sharing a store, and on
// one with a small concurrency limit.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::test_options;

namespace {

using str_input = durable::finalize_input<std::string, std::string>;

constexpr int independent_count = 250;
constexpr int wide_count = 500;

/// Every task of the scenario, with the counters its checks need. The same
/// definitions are registered on every executor taking part.
struct scenario {
  std::vector<std::atomic<int>>
    independent_runs = std::vector<std::atomic<int>>(independent_count);
  std::atomic<int> retry_runs{0};
  std::atomic<int> close_child_runs{0};
  std::atomic<int> iterations{0};
  std::atomic<bool> value_set{false};

  durable::task_ref<std::string, std::string> tree;
  durable::task_ref<int, int> independent;
  durable::task_ref<int, int> retry;
  durable::task_ref<int, int> always_fails;
  durable::task_ref<int, std::string> failing_child_parent;
  durable::task_ref<int, std::string> failing_finalize_parent;
  durable::task_ref<int, durable::parent_result<std::string>> wide;
  durable::task_ref<int, durable::loop_result<int>> loop;
  durable::task_ref<std::string, std::string> sleeper;
  durable::task_ref<std::string, std::string> waits_for_sleeper;
  durable::task_ref<int, durable::parent_result<std::string>> close_parent;

  void define(durable::executor& exec) {
    define_tree(exec);
    independent = exec.task<int, int>(
      {.id = "independent", .timeout = 10s},
      [this](durable::task_context& ctx, int i) {
        ++independent_runs.at(static_cast<std::size_t>(i));
        std::mt19937 rng{static_cast<std::uint32_t>(
          std::hash<std::string>{}(ctx.execution_id))};
        std::this_thread::sleep_for(std::chrono::milliseconds{rng() % 11});
        return i * 7;
      });
    retry = exec.task<int, int>(
      {.id = "retry", .timeout = 5s, .retry = {.max_attempts = 3}},
      [this](durable::task_context& ctx, int x) {
        ++retry_runs;
        if (ctx.attempt < 2)
          throw std::runtime_error("not yet");
        return x;
      });
    always_fails = exec.task<int, int>({.id = "always_fails", .timeout = 5s},
                                       [](durable::task_context&, int) -> int {
                                         throw std::runtime_error("Failed");
                                       });
    define_failing_parents(exec);
    auto item = exec.task<int, std::string>(
      {.id = "item", .timeout = 10s}, [](durable::task_context&, int i) {
        return "item_" + std::to_string(i);
      });
    wide = exec.parent_task<int, std::string>(
      {.id = "wide", .timeout = 10s}, [item](durable::task_context&, int n) {
        durable::parent_output<std::string> out{.output = "wide"};
        for (int i = 0; i < n; ++i)
          out.children.add(item, i);
        return out;
      });
    auto iteration = exec.task<int, durable::loop_step<int>>(
      {.id = "iteration", .timeout = 5s},
      [this](durable::task_context&, int x) {
        ++iterations;
        if (value_set)
          return durable::loop_step<int>::finished(x);
        return durable::loop_step<int>::again();
      });
    loop = exec.looping_task("loop", iteration, 20,
                             [](int) { return durable::millis{100}; });
    define_sleeper_and_close(exec);
  }

  void define_tree(durable::executor& exec) {
    auto leaf = exec.task<std::string, std::string>(
      {.id = "leaf", .timeout = 5s},
      [](durable::task_context&, const std::string& s) { return "L" + s; });
    auto three = exec.parent_task<std::string, std::string>(
      {.id = "three", .timeout = 5s},
      [leaf](durable::task_context&, const std::string&) {
        durable::parent_output<std::string> out{.output = "three"};
        for (const char* s : {"1", "2", "3"})
          out.children.add(leaf, std::string{s});
        return out;
      },
      durable::finalize([](const str_input& in) {
        std::string s;
        for (const auto& c : in.children)
          s += c.output().value_or("?");
        return s;
      }));
    auto step = [&exec](const std::string& id, const std::string& suffix) {
      return exec.task<std::string, std::string>(
        {.id = id, .timeout = 5s},
        [suffix](durable::task_context&, const std::string& s) {
          return s + suffix;
        });
    };
    auto seq = exec.sequence("seq", step("step_a", "A"), step("step_b", "B"),
                             step("step_c", "C"));
    auto merge = exec.task<str_input, std::string>(
      {.id = "merge", .timeout = 5s},
      [](durable::task_context&, const str_input& in) {
        auto s = in.output;
        for (const auto& c : in.children)
          s += "|" + c.output().value_or("?");
        return s;
      });
    tree = exec.parent_task<std::string, std::string>(
      {.id = "tree", .timeout = 5s},
      [three, seq](durable::task_context&, const std::string& s) {
        durable::parent_output<std::string> out{.output = s};
        out.children.add(three, std::string{"p"});
        out.children.add(seq, std::string{"S"});
        return out;
      },
      merge);
  }

  void define_failing_parents(durable::executor& exec) {
    auto ok = exec.task<int, int>({.id = "ok_child", .timeout = 5s},
                                  [](durable::task_context&, int x) {
                                    return x;
                                  });
    auto rethrow = exec.task<durable::finalize_input<std::string, int>,
                             std::string>(
      {.id = "rethrow", .timeout = 5s},
      [](durable::task_context&,
         const durable::finalize_input<std::string, int>& in) -> std::string {
        for (const auto& c : in.children)
          if (!c.ok())
            throw std::runtime_error(c.error->message);
        return "no failure";
      });
    failing_child_parent = exec.parent_task<int, std::string>(
      {.id = "failing_child_parent", .timeout = 5s},
      [this, ok](durable::task_context&, int x) {
        durable::parent_output<std::string> out;
        out.children.add(ok, x);
        out.children.add(always_fails, x);
        return out;
      },
      rethrow);
    auto broken = exec.task<durable::finalize_input<std::string, int>,
                            std::string>(
      {.id = "broken_finalize", .timeout = 5s},
      [](durable::task_context&,
         const durable::finalize_input<std::string, int>&) -> std::string {
        throw std::runtime_error("Failed");
      });
    failing_finalize_parent = exec.parent_task<int, std::string>(
      {.id = "failing_finalize_parent", .timeout = 5s},
      [ok](durable::task_context&, int x) {
        durable::parent_output<std::string> out;
        out.children.add(ok, x);
        return out;
      },
      broken);
  }

  void define_sleeper_and_close(durable::executor& exec) {
    sleeper = exec.sleeping_task<std::string>(
      {.id = "sleeper", .timeout = 60s});
    waits_for_sleeper = exec.parent_task<std::string, std::string>(
      {.id = "waits_for_sleeper", .timeout = 5s},
      [this](durable::task_context&, const std::string& sid) {
        durable::parent_output<std::string> out;
        out.children.add(sleeper, sid);
        return out;
      },
      durable::finalize([](const str_input& in) {
        return in.children.at(0).output().value_or("not woken");
      }));
    auto close_child = exec.task<int, int>({.id = "close_child", .timeout = 5s},
                                           [this](durable::task_context&,
                                                  int x) {
                                             ++close_child_runs;
                                             return x;
                                           });
    close_parent = exec.parent_task<int, std::string>(
      {.id = "close_parent", .timeout = 5s},
      [close_child](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "closing"};
        out.children.add(close_child, x);
        return out;
      });
  }

  /// Enqueues everything through `exec` at once, then checks every item.
  void run(durable::executor& exec) {
    std::thread setter([this] {
      std::this_thread::sleep_for(1s);
      // The loop must see the value unset once: a durable store (an fsync or
      // a write per transition) may start it later than 1 s on a busy
      // machine, so wait for its first iteration.
      engine_test::eventually([this] { return iterations.load() >= 1; });
      value_set = true;
    });
    // 1. a tree of a parent with finalize and a chain, under a root finalize
    auto tree_h = exec.enqueue(tree, std::string{"root"});
    // 2. independent tasks
    std::vector<int> inputs(independent_count);
    for (int i = 0; i < independent_count; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto independent_hs = exec.enqueue_many(independent, inputs);
    // 3.-6. retries and failures
    auto retry_h = exec.enqueue(retry, 3);
    auto fails_h = exec.enqueue(always_fails, 4);
    auto failing_child_h = exec.enqueue(failing_child_parent, 5);
    auto failing_finalize_h = exec.enqueue(failing_finalize_parent, 6);
    // 7. a wide parent
    auto wide_h = exec.enqueue(wide, wide_count);
    // 8. a loop that succeeds once the value is set
    auto loop_h = exec.enqueue(loop, 10);
    // 9. a parent waiting for a sleeping child
    auto sleeper_h = exec.enqueue(waits_for_sleeper, std::string{"wake-me"});
    // 10. a parent and a child that must be closed
    auto close_h = exec.enqueue(close_parent, 11);

    // 9. wake the sleeping child while its parent waits
    REQUIRE(engine_test::reaches(exec, sleeper_h.execution_id(),
                                 execution_status::waiting_for_children));
    exec.wake(sleeper, "wake-me",
              durable::completed(std::string{"sleeping output"}));

    check_tree(await(tree_h, 60s));
    for (int i = 0; i < independent_count; ++i) {
      auto r = await(independent_hs[static_cast<std::size_t>(i)], 60s);
      CHECK(r.ok());
      CHECK(r.output == i * 7);
      CHECK(independent_runs[static_cast<std::size_t>(i)] == 1);
    }
    auto retried = await(retry_h, 60s);
    CHECK(retried.ok());
    CHECK(retried.execution.attempt == 2);
    CHECK(retry_runs == 3);
    auto fails = await(fails_h, 60s);
    CHECK(fails.status() == execution_status::failed);
    CHECK(fails.error()->message == "Failed");
    auto failing_child = await(failing_child_h, 60s);
    CHECK(failing_child.status() == execution_status::finalize_failed);
    CHECK(failing_child.error()->message == "Failed");
    auto failing_finalize = await(failing_finalize_h, 60s);
    CHECK(failing_finalize.status() == execution_status::finalize_failed);
    CHECK(failing_finalize.error()->message == "Failed");
    check_wide(await(wide_h, 60s));
    auto looped = await(loop_h, 60s);
    REQUIRE(looped.ok());
    CHECK(looped.output->is_success);
    CHECK(looped.output->output == 10);
    CHECK(iterations >= 2);
    CHECK(iterations <= 20);
    auto woken = await(sleeper_h, 60s);
    REQUIRE(woken.ok());
    CHECK(woken.output == "sleeping output");
    check_closed(exec, await(close_h, 60s));
    setter.join();
  }

  static void check_tree(const durable::finished<std::string>& r) {
    REQUIRE(r.ok());
    CHECK(r.output == "root|L1L2L3|SABC");
    const auto& e = r.execution;
    CHECK(e.started_at.has_value());
    CHECK(e.waiting_for_children_started_at.has_value());
    CHECK(e.waiting_for_finalize_started_at.has_value());
    CHECK(e.finished_at.has_value());
    CHECK(*e.waiting_for_finalize_started_at
          >= *e.waiting_for_children_started_at);
    CHECK(*e.finished_at >= *e.waiting_for_finalize_started_at);
  }

  static void
  check_wide(const durable::finished<durable::parent_result<std::string>>& r) {
    REQUIRE(r.ok());
    REQUIRE(r.output->children.size() == wide_count);
    for (int i = 0; i < wide_count; ++i)
      CHECK(r.output->children[static_cast<std::size_t>(i)]
              .output()
              ->get<std::string>()
            == "item_" + std::to_string(i));
    CHECK(r.execution.waiting_for_children_started_at.has_value());
    CHECK_FALSE(r.execution.waiting_for_finalize_started_at.has_value());
    CHECK_FALSE(r.execution.finalize.has_value());
  }

  void check_closed(
    durable::executor& exec,
    const durable::finished<durable::parent_result<std::string>>& r) {
    REQUIRE(r.ok());
    CHECK(close_child_runs == 1);
    REQUIRE(r.execution.closed_at.has_value());
    auto child = exec.get(r.execution.children.at(0).execution_id);
    REQUIRE(child.finished_at.has_value());
    CHECK(child.closed_at.has_value());
    CHECK(*r.execution.closed_at >= *child.finished_at);
    CHECK(*r.execution.closed_at
          >= *r.execution.waiting_for_children_started_at);
  }
};

} // namespace

TEST_SUITE("integration.scenario") {
  TEST_CASE("the end to end scenario completes on one executor") {
    durable::executor exec{durable::test::make_store(), test_options()};
    scenario s;
    s.define(exec);
    s.run(exec);
  }

  TEST_CASE("the end to end scenario completes on two executors of one store") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    scenario s;
    s.define(a);
    s.define(b);
    s.run(b);
  }

  TEST_CASE("the end to end scenario completes with four concurrency slots") {
    auto opts = test_options();
    opts.max_concurrent = 4;
    opts.claim_batch_size = 2;
    durable::executor exec{durable::test::make_store(), opts};
    scenario s;
    s.define(exec);
    s.run(exec);
  }
}
