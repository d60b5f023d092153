#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::test_options;

namespace {

using str_input = durable::finalize_input<std::string, std::string>;
using int_input = durable::finalize_input<std::string, int>;

/// A task that doubles its input.
durable::task_ref<int, int> doubler(durable::executor& exec,
                                    std::atomic<int>* runs = nullptr) {
  return exec.task<int, int>({.id = "double", .timeout = 5s},
                             [runs](durable::task_context&, int x) {
                               if (runs)
                                 ++*runs;
                               return 2 * x;
                             });
}

/// A task that always fails with "child <x> failed", never retried.
durable::task_ref<int, int> failing_child(durable::executor& exec) {
  return exec.task<int, int>({.id = "failing", .timeout = 5s},
                             [](durable::task_context&, int x) -> int {
                               throw durable::error::non_retryable(
                                 "child " + std::to_string(x) + " failed");
                             });
}

/// Spawns one `child` per input element.
template <class C>
auto spawn_all(const durable::task_ref<int, C>& child) {
  return [child](durable::task_context&, const std::vector<int>& xs) {
    durable::parent_output<std::string> out{.output = "spawned"};
    for (int x : xs)
      out.children.add(child, x);
    return out;
  };
}

/// Joins completed child outputs and errors of failed ones.
std::string describe(const int_input& in) {
  std::string s = in.output + ":";
  for (const auto& c : in.children) {
    if (c.ok())
      s += std::to_string(c.output().value_or(-1));
    else
      s += "[" + std::string{durable::to_string(c.status)} + " "
           + (c.error ? c.error->message : "?") + "]";
    s += ",";
  }
  return s;
}

} // namespace

TEST_SUITE("integration.parent") {
  TEST_CASE("a parent without finalize outputs its children in order") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child));
    std::vector<int> xs;
    for (int i = 0; i < 20; ++i)
      xs.push_back(i);
    auto r = await(exec.enqueue(parent, xs));
    REQUIRE(r.ok());
    REQUIRE(r.output.has_value());
    CHECK(r.output->output == "spawned");
    REQUIRE(r.output->children.size() == 20);
    for (int i = 0; i < 20; ++i) {
      const auto& c = r.output->children[static_cast<std::size_t>(i)];
      CHECK(c.ok());
      CHECK(c.task_id == "double");
      CHECK(c.output()->get<int>() == 2 * i);
      CHECK(c.execution_id
            == r.execution.children[static_cast<std::size_t>(i)].execution_id);
    }
    CHECK(r.execution.waiting_for_children_started_at.has_value());
    CHECK_FALSE(r.execution.waiting_for_finalize_started_at.has_value());
    CHECK(r.execution.started_at.has_value());
    CHECK(r.execution.finished_at.has_value());
  }

  TEST_CASE("a parent with no children completes at once without waiting") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child));
    auto r = await(exec.enqueue(parent, std::vector<int>{}));
    REQUIRE(r.ok());
    CHECK(r.output->output == "spawned");
    CHECK(r.output->children.empty());
    CHECK(r.execution.children.empty());
    CHECK_FALSE(r.execution.waiting_for_children_started_at.has_value());
    CHECK_FALSE(r.execution.waiting_for_finalize_started_at.has_value());
  }

  TEST_CASE("a finalize function receives the parent output and children") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child),
      durable::finalize([](const int_input& in) { return describe(in); }));
    auto r = await(exec.enqueue(parent, std::vector<int>{1, 2, 3}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:2,4,6,");
    CHECK(r.execution.waiting_for_children_started_at.has_value());
    // When the function ran, as the reference records it.
    REQUIRE(r.execution.waiting_for_finalize_started_at.has_value());
    CHECK(*r.execution.waiting_for_finalize_started_at
          >= *r.execution.waiting_for_children_started_at);
  }

  TEST_CASE("a finalize task runs as a child and gives the parent output") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> finalize_runs{0};
    std::atomic<bool> linked_as_finalize{false};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s},
      [&](durable::task_context& ctx, const int_input& in) {
        ++finalize_runs;
        linked_as_finalize = ctx.parent && ctx.parent->is_finalize
                             && ctx.parent->task_id == "parent";
        return describe(in);
      });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto r = await(exec.enqueue(parent, std::vector<int>{5, 6}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:10,12,");
    CHECK(finalize_runs == 1);
    CHECK(linked_as_finalize);
    CHECK(r.execution.waiting_for_children_started_at.has_value());
    CHECK(r.execution.waiting_for_finalize_started_at.has_value());
    REQUIRE(r.execution.finalize.has_value());
    auto f = exec.get(r.execution.finalize->execution_id);
    CHECK(f.status == execution_status::completed);
    CHECK(f.task_id == "fin");
  }

  TEST_CASE("a finalize function runs even when there are no children") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child),
      durable::finalize([](const int_input& in) { return describe(in); }));
    auto r = await(exec.enqueue(parent, std::vector<int>{}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:");
    CHECK_FALSE(r.execution.waiting_for_children_started_at.has_value());
    CHECK(r.execution.waiting_for_finalize_started_at.has_value());
  }

  TEST_CASE("a finalize task without children goes straight to finalize") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>({.id = "fin", .timeout = 5s},
                                                 [](durable::task_context&,
                                                    const int_input& in) {
                                                   return "fin " + describe(in);
                                                 });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto r = await(exec.enqueue(parent, std::vector<int>{}));
    REQUIRE(r.ok());
    CHECK(r.output == "fin spawned:");
    // The reference sets both, to the same moment.
    REQUIRE(r.execution.waiting_for_finalize_started_at.has_value());
    CHECK(r.execution.waiting_for_children_started_at
          == r.execution.waiting_for_finalize_started_at);
    CHECK(r.execution.finalize.has_value());
  }

  TEST_CASE("children failures do not fail a parent without finalize") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto ok = doubler(exec);
    auto bad = failing_child(exec);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [&](durable::task_context&, int) {
        durable::parent_output<std::string> out{.output = "mixed"};
        out.children.add(ok, 1);
        out.children.add(bad, 2);
        out.children.add(ok, 3);
        return out;
      });
    auto r = await(exec.enqueue(parent, 0));
    REQUIRE(r.ok());
    const auto& cs = r.output->children;
    REQUIRE(cs.size() == 3);
    CHECK(cs[0].ok());
    CHECK(cs[1].status == execution_status::failed);
    REQUIRE(cs[1].error.has_value());
    CHECK(cs[1].error->message == "child 2 failed");
    CHECK_FALSE(cs[1].output().has_value());
    CHECK(cs[2].output()->get<int>() == 6);
  }

  TEST_CASE("a finalize function sees a failing child and fails the parent") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto ok = doubler(exec);
    auto bad = failing_child(exec);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s},
      [&](durable::task_context&, int) {
        durable::parent_output<std::string> out{.output = "strict"};
        out.children.add(ok, 1);
        out.children.add(bad, 7);
        return out;
      },
      durable::finalize([](const int_input& in) -> std::string {
        for (const auto& c : in.children)
          if (!c.ok())
            throw std::runtime_error("finalize saw: " + c.error->message);
        return "all good";
      }));
    auto r = await(exec.enqueue(parent, 0));
    CHECK(r.status() == execution_status::finalize_failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "finalize saw: child 7 failed");
    CHECK_FALSE(r.error()->retryable);
  }

  TEST_CASE("a finalize task sees several failing children in order") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto ok = doubler(exec);
    auto bad = failing_child(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s},
      [](durable::task_context&, const int_input& in) -> std::string {
        std::string failed;
        for (const auto& c : in.children)
          if (!c.ok())
            failed += c.error->message + ";";
        if (!failed.empty())
          throw durable::error::non_retryable("failures: " + failed);
        return "none";
      });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s},
      [&](durable::task_context&, int) {
        durable::parent_output<std::string> out{.output = "x"};
        out.children.add(bad, 1);
        out.children.add(ok, 2);
        out.children.add(bad, 3);
        return out;
      },
      fin);
    auto r = await(exec.enqueue(parent, 0));
    CHECK(r.status() == execution_status::finalize_failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "failures: child 1 failed;child 3 failed;");
  }

  TEST_CASE("a parent spawning 1001 children fails without being retried") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> runs{0};
    std::atomic<int> child_runs{0};
    auto child = doubler(exec, &child_runs);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s, .retry = {.max_attempts = 2}},
      [&](durable::task_context&, int n) {
        ++runs;
        durable::parent_output<std::string> out;
        for (int i = 0; i < n; ++i)
          out.children.add(child, i);
        return out;
      });
    auto r = await(exec.enqueue(parent, 1001));
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.starts_with(
      "Parent task tried to spawn more than max children tasks"));
    CHECK(runs == 1);
    CHECK(child_runs == 0);
    CHECK(r.execution.children.empty());
  }

  TEST_CASE("the max children option bounds the children of one run") {
    auto opts = test_options();
    opts.max_children = 3;
    durable::executor exec{durable::test::make_store(), opts};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child));
    auto at_limit = await(exec.enqueue(parent, std::vector<int>{1, 2, 3}));
    CHECK(at_limit.ok());
    auto over = await(exec.enqueue(parent, std::vector<int>{1, 2, 3, 4}));
    CHECK(over.status() == execution_status::failed);
    REQUIRE(over.error().has_value());
    CHECK(over.error()->message.find("[maxChildren=3] [childrenCount=4]")
          != std::string::npos);
  }

  TEST_CASE("a throwing finalize function with children ends finalize_failed") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child),
      durable::finalize([](const int_input&) -> std::string {
        throw std::runtime_error("finalize broke");
      }));
    auto r = await(exec.enqueue(parent, std::vector<int>{1, 2}));
    CHECK(r.status() == execution_status::finalize_failed);
    CHECK(r.error()->message == "finalize broke");
    CHECK_FALSE(r.error()->retryable);
    CHECK_FALSE(r.output.has_value());
    CHECK(r.execution.waiting_for_finalize_started_at.has_value());
  }

  TEST_CASE("a throwing finalize function without children fails the parent") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child),
      durable::finalize([](const int_input&) -> std::string {
        throw std::runtime_error("finalize broke early");
      }));
    auto r = await(exec.enqueue(parent, std::vector<int>{}));
    CHECK(r.status() == execution_status::finalize_failed);
    CHECK(r.error()->message == "finalize broke early");
  }

  TEST_CASE("a failing finalize task with children ends finalize_failed") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> fin_runs{0};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s, .retry = {.max_attempts = 1}},
      [&](durable::task_context&, const int_input&) -> std::string {
        ++fin_runs;
        throw std::runtime_error("finalize task broke");
      });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto r = await(exec.enqueue(parent, std::vector<int>{1}));
    CHECK(r.status() == execution_status::finalize_failed);
    CHECK(r.error()->message == "finalize task broke");
    // The finalize's own error, unchanged: a plain throw is retryable.
    CHECK(r.error()->retryable);
    // The finalize task is an ordinary execution with its own retries.
    CHECK(fin_runs == 2);
    REQUIRE(r.execution.finalize.has_value());
    CHECK(exec.get(r.execution.finalize->execution_id).status
          == execution_status::failed);
  }

  TEST_CASE("a failing finalize task without children fails the parent") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s},
      [](durable::task_context&, const int_input&) -> std::string {
        throw durable::error::non_retryable("nothing to finalize");
      });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto r = await(exec.enqueue(parent, std::vector<int>{}));
    CHECK(r.status() == execution_status::finalize_failed);
    CHECK(r.error()->message == "nothing to finalize");
  }

  TEST_CASE("a nested finalize parent runs its own children and finalize") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> runs{0};
    auto letter = exec.task<std::string, std::string>(
      {.id = "letter", .timeout = 5s},
      [&](durable::task_context&, const std::string& s) {
        ++runs;
        return s;
      });
    auto inner_fin = exec.task<str_input, std::string>(
      {.id = "inner_fin", .timeout = 5s},
      [&](durable::task_context&, const str_input& in) {
        ++runs;
        auto s = in.output;
        for (const auto& c : in.children)
          s += c.output().value_or("?");
        return s;
      });
    auto outer_fin = exec.parent_task<str_input, std::string>(
      {.id = "outer_fin", .timeout = 5s},
      [&](durable::task_context&, const str_input& in) {
        ++runs;
        durable::parent_output<std::string> out;
        out.output = in.output;
        for (const auto& c : in.children)
          out.output += c.output().value_or("?");
        out.children.add(letter, std::string{"c"});
        out.children.add(letter, std::string{"d"});
        return out;
      },
      inner_fin);
    auto top = exec.parent_task<std::string, std::string>(
      {.id = "top", .timeout = 5s},
      [&](durable::task_context&, const std::string& s) {
        ++runs;
        durable::parent_output<std::string> out{.output = s};
        out.children.add(letter, std::string{"a"});
        out.children.add(letter, std::string{"b"});
        return out;
      },
      outer_fin);
    auto r = await(exec.enqueue(top, std::string{"p"}));
    REQUIRE(r.ok());
    CHECK(r.output == "pabcd");
    CHECK(runs == 7);
    REQUIRE(r.execution.finalize.has_value());
    auto mid = exec.get(r.execution.finalize->execution_id);
    CHECK(mid.status == execution_status::completed);
    CHECK(mid.children.size() == 2);
    CHECK(mid.finalize.has_value());
  }

  TEST_CASE("cancelling a parent while a child runs cancels the child") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<bool> child_started{false};
    std::atomic<bool> child_saw_cancel{false};
    std::atomic<int> completions{0};
    auto slow = exec.task<int, int>(
      {.id = "slow", .timeout = 60s}, [&](durable::task_context& ctx, int x) {
        child_started = true;
        std::atomic<bool> never{false};
        engine_test::block_until(never, ctx);
        child_saw_cancel = ctx.cancel_token.stop_requested();
        ++completions;
        return x;
      });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "p"};
        out.children.add(slow, x);
        return out;
      });
    auto h = exec.enqueue(parent, 1);
    REQUIRE(engine_test::eventually([&] { return child_started.load(); }));
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    h.cancel();
    auto r = await(h);
    CHECK(r.status() == execution_status::cancelled);
    CHECK(r.error()->message == "Task execution cancelled");
    auto child_id = r.execution.children.at(0).execution_id;
    auto child = exec.get(child_id);
    CHECK(child.status == execution_status::cancelled);
    REQUIRE(child.error.has_value());
    CHECK(child.error->message
          == "Parent task failed [parentTaskId=parent] [parentExecutionId="
               + h.execution_id() + "]: Task execution cancelled");
    REQUIRE(engine_test::eventually([&] { return child_saw_cancel.load(); }));
    // The child body's late return never overwrites the cancellation.
    REQUIRE(engine_test::eventually([&] { return completions.load() == 1; }));
    CHECK(exec.get(child_id).status == execution_status::cancelled);
  }

  TEST_CASE(
    "cancelling a parent waiting for its finalize cancels the finalize") {
    // The finalize is stored before it runs only without claim_on_insert
    // (finalize_here_test.cpp covers a cancel while it runs unstored).
    auto opts = test_options();
    opts.claim_on_insert = false;
    durable::executor exec{durable::test::make_store(), opts};
    std::atomic<bool> fin_started{false};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 60s},
      [&](durable::task_context& ctx, const int_input&) {
        fin_started = true;
        std::atomic<bool> never{false};
        engine_test::block_until(never, ctx);
        return std::string{"late"};
      });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto h = exec.enqueue(parent, std::vector<int>{1});
    REQUIRE(engine_test::eventually([&] { return fin_started.load(); }));
    h.cancel();
    auto r = await(h);
    CHECK(r.status() == execution_status::cancelled);
    REQUIRE(r.execution.finalize.has_value());
    auto f = exec.get(r.execution.finalize->execution_id);
    CHECK(f.status == execution_status::cancelled);
    CHECK(
      f.error->message.starts_with("Parent task failed [parentTaskId=parent]"));
  }

  TEST_CASE("a grandchild failure propagates through two finalize functions") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto bad = failing_child(exec);
    auto rethrow = [](const std::string& prefix) {
      return [prefix](const int_input& in) -> int {
        for (const auto& c : in.children)
          if (!c.ok())
            throw std::runtime_error(prefix + c.error->message);
        return 0;
      };
    };
    auto middle = exec.parent_task<int, std::string>(
      {.id = "middle", .timeout = 5s},
      [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out;
        out.children.add(bad, x);
        return out;
      },
      durable::finalize(rethrow("middle: ")));
    auto top = exec.parent_task<int, std::string>(
      {.id = "top", .timeout = 5s},
      [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out;
        out.children.add(middle, x);
        return out;
      },
      durable::finalize(rethrow("top: ")));
    auto r = await(exec.enqueue(top, 9));
    CHECK(r.status() == execution_status::finalize_failed);
    CHECK(r.error()->message == "top: middle: child 9 failed");
    auto mid = exec.get(r.execution.children.at(0).execution_id);
    CHECK(mid.status == execution_status::finalize_failed);
    CHECK(mid.error->message == "middle: child 9 failed");
    REQUIRE(mid.parent.has_value());
    CHECK(mid.parent->execution_id == r.execution.id);
    auto leaf = exec.get(mid.children.at(0).execution_id);
    CHECK(leaf.root.execution_id == r.execution.id);
  }

  TEST_CASE("a timed out child is reported to the finalize") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto slow = exec.task<int, int>({.id = "slow", .timeout = 100ms},
                                    [](durable::task_context& ctx, int x) {
                                      std::atomic<bool> never{false};
                                      engine_test::block_until(never, ctx);
                                      return x;
                                    });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s},
      [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "p"};
        out.children.add(slow, x);
        return out;
      },
      durable::finalize([](const int_input& in) {
        const auto& c = in.children.at(0);
        std::string s{durable::to_string(c.status)};
        if (c.error)
          s += std::string{" "} + std::string{durable::to_string(c.error->kind)}
               + " " + c.error->message;
        return s;
      }));
    auto r = await(exec.enqueue(parent, 1));
    REQUIRE(r.ok());
    CHECK(r.output == "timed_out timed_out Task execution timed out");
  }

  TEST_CASE("a parent timeout covers only its own run not its children") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto slowish = exec.task<int, int>({.id = "slowish", .timeout = 10s},
                                       [](durable::task_context&, int x) {
                                         std::this_thread::sleep_for(1000ms);
                                         return x;
                                       });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 300ms}, spawn_all(slowish));
    auto r = await(exec.enqueue(parent, std::vector<int>{1, 2}));
    REQUIRE(r.ok());
    CHECK(r.output->children.size() == 2);
    CHECK(r.output->children[1].output()->get<int>() == 2);
  }

  TEST_CASE("a sleeping child woken with an output completes the parent") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto sleeper = exec.sleeping_task<std::string>(
      {.id = "sleeper", .timeout = 60s});
    auto parent = exec.parent_task<std::string, std::string>(
      {.id = "parent", .timeout = 5s},
      [&](durable::task_context&, const std::string& sid) {
        durable::parent_output<std::string> out;
        out.children.add(sleeper, sid);
        return out;
      },
      durable::finalize([](const str_input& in) {
        return in.children.at(0).output().value_or("not completed");
      }));
    auto h = exec.enqueue(parent, std::string{"approval-1"});
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    auto woken = exec.wake(sleeper, "approval-1",
                           durable::completed(std::string{"approved"}));
    CHECK(woken.status == execution_status::completed);
    auto r = await(h);
    REQUIRE(r.ok());
    CHECK(r.output == "approved");
  }

  TEST_CASE("a sleeping child woken with a failure is seen by the finalize") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto sleeper = exec.sleeping_task<std::string>(
      {.id = "sleeper", .timeout = 60s});
    auto parent = exec.parent_task<std::string, std::string>(
      {.id = "parent", .timeout = 5s},
      [&](durable::task_context&, const std::string& sid) {
        durable::parent_output<std::string> out;
        out.children.add(sleeper, sid);
        return out;
      },
      durable::finalize([](const str_input& in) {
        const auto& c = in.children.at(0);
        return std::string{durable::to_string(c.status)} + ": "
               + (c.error ? c.error->message : "");
      }));
    auto h = exec.enqueue(parent, std::string{"approval-2"});
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    exec.wake(sleeper, "approval-2", durable::failed("rejected by reviewer"));
    auto r = await(h);
    REQUIRE(r.ok());
    CHECK(r.output == "failed: rejected by reviewer");
  }

  TEST_CASE("a finished parent and its children are closed") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> child_runs{0};
    auto child = doubler(exec, &child_runs);
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child));
    auto r = await(exec.enqueue(parent, std::vector<int>{1, 2, 3}));
    REQUIRE(r.ok());
    CHECK(child_runs == 3);
    REQUIRE(r.execution.closed_at.has_value());
    REQUIRE(r.execution.finished_at.has_value());
    CHECK(*r.execution.closed_at >= *r.execution.finished_at);
    CHECK(*r.execution.closed_at
          >= *r.execution.waiting_for_children_started_at);
    for (const auto& ref : r.execution.children) {
      auto c = exec.get(ref.execution_id);
      CHECK(c.status == execution_status::completed);
      REQUIRE(c.closed_at.has_value());
      CHECK(*r.execution.closed_at >= *c.finished_at);
    }
  }

  TEST_CASE("children know their parent their index and their root") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::mutex mtx;
    std::vector<durable::parent_link> links;
    std::vector<durable::execution_ref> roots;
    auto child = exec.task<int, int>(
      {.id = "child", .timeout = 5s}, [&](durable::task_context& ctx, int x) {
        std::lock_guard guard{mtx};
        links.push_back(ctx.parent.value_or(durable::parent_link{}));
        roots.push_back(ctx.root);
        return x;
      });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child));
    auto only = await(exec.enqueue(parent, std::vector<int>{0}));
    auto pair = await(exec.enqueue(parent, std::vector<int>{0, 1}));
    REQUIRE(only.ok());
    REQUIRE(pair.ok());
    std::lock_guard guard{mtx};
    REQUIRE(links.size() == 3);
    int only_children = 0;
    for (std::size_t i = 0; i < links.size(); ++i) {
      CHECK(links[i].task_id == "parent");
      CHECK_FALSE(links[i].is_finalize);
      CHECK(roots[i].execution_id == links[i].execution_id);
      if (links[i].is_only_child) {
        ++only_children;
        CHECK(links[i].execution_id == only.execution.id);
      } else {
        CHECK(links[i].execution_id == pair.execution.id);
      }
    }
    CHECK(only_children == 1);
    auto second = exec.get(pair.execution.children.at(1).execution_id);
    CHECK(second.parent->index == 1);
  }

  TEST_CASE("a child of an unregistered task fails the parent run") {
    durable::executor exec{durable::test::make_store(), test_options()};
    durable::task_ref<int, int> ghost{"ghost"};
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out;
        out.children.add(ghost, x);
        return out;
      });
    auto r = await(exec.enqueue(parent, 1));
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "Task not found [taskId=ghost]");
    CHECK(r.error()->kind == durable::error_kind::not_found);
  }

  TEST_CASE("a parent body that throws is retried and spawns children once") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> parent_runs{0};
    std::atomic<int> child_runs{0};
    auto child = doubler(exec, &child_runs);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s, .retry = {.max_attempts = 2}},
      [&](durable::task_context& ctx, int x) {
        ++parent_runs;
        if (ctx.attempt == 0)
          throw std::runtime_error("transient");
        durable::parent_output<std::string> out{.output = "second try"};
        out.children.add(child, x);
        out.children.add(child, x + 1);
        return out;
      });
    auto r = await(exec.enqueue(parent, 4));
    REQUIRE(r.ok());
    CHECK(parent_runs == 2);
    CHECK(child_runs == 2);
    CHECK(r.execution.attempt == 1);
    CHECK(r.output->output == "second try");
    CHECK(r.output->children[1].output()->get<int>() == 10);
  }

  TEST_CASE("per child enqueue overrides apply to that child only") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto slowish = exec.task<int, int>(
      {.id = "slowish", .timeout = 50ms},
      [](durable::task_context& ctx, int x) {
        auto until = std::chrono::steady_clock::now() + 300ms;
        while (std::chrono::steady_clock::now() < until
               && !ctx.stop_requested())
          std::this_thread::sleep_for(5ms);
        return x;
      });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [&](durable::task_context&, int) {
        durable::parent_output<std::string> out;
        out.children.add(slowish, 1);
        out.children.add(slowish, 2, {.timeout = durable::millis{20'000}});
        return out;
      });
    auto r = await(exec.enqueue(parent, 0));
    REQUIRE(r.ok());
    CHECK(r.output->children[0].status == execution_status::timed_out);
    CHECK(r.output->children[1].ok());
    auto second = exec.get(r.execution.children[1].execution_id);
    CHECK(second.timeout == durable::millis{20'000});
  }

  namespace {

  /// A parent of `n` sleeping "approval" children woken by `client` (another
  /// executor on the store under `exec`'s) with "yes".
  struct approvals {
    durable::task_ref<std::string, std::string> approval;
    durable::task_ref<int, durable::parent_result<std::string>> parent;
    std::string uid;

    approvals(durable::executor& exec, durable::executor& client)
      : uid(exec.incarnation()) {
      approval = exec.sleeping_task<std::string>(
        {.id = "approval", .timeout = 60s});
      client.sleeping_task<std::string>({.id = "approval", .timeout = 60s});
      parent = exec.parent_task<int, std::string>(
        {.id = "parent", .timeout = 60s},
        [approval = approval, uid = uid](durable::task_context&, int n) {
          durable::parent_output<std::string> out{.output = "asked"};
          for (int i = 0; i < n; ++i)
            out.children.add(approval, uid + "-" + std::to_string(i));
          return out;
        });
    }

    void approve(durable::executor& client, int n) const {
      for (int i = 0; i < n; ++i)
        client.wake(approval, uid + "-" + std::to_string(i),
                    durable::completed(std::string{"yes"}));
    }
  };

  /// Options whose safety-net re-check of waiting parents is far beyond
  /// the hang guard: a parent finishes only if it counts announcements.
  durable::executor_options no_recheck_options() {
    auto opts = test_options();
    opts.supervisor_recheck_interval = durable::millis{600000};
    return opts;
  }

  durable::executor_options client_options() {
    auto opts = test_options();
    opts.run_tasks = false;
    return opts;
  }

  /// A recording store over the suite's store, an executor on it that runs
  /// the approval parents, and a client executor on the store beneath.
  struct approval_run {
    std::shared_ptr<durable::store> inner = durable::test::make_store();
    std::shared_ptr<engine_test::recording_store>
      slow = std::make_shared<engine_test::recording_store>(inner);
    durable::executor exec{slow, no_recheck_options()};
    durable::executor client{inner, client_options()};
    approvals t{exec, client};
  };

  void check_approved(
    const durable::finished<durable::parent_result<std::string>>& r) {
    REQUIRE(r.ok());
    REQUIRE(r.output->children.size() == 2);
    for (const auto& c : r.output->children)
      CHECK(c.output() == "yes");
  }

  } // namespace

  TEST_CASE("a parent sees children that finish while it reads its children") {
    // A resync makes the waiting parent read its children (slowly); they are
    // woken while that read is in flight, so their announcements arrive
    // during a read that saw them unfinished.
    approval_run run;
    run.slow->delay_children_reads(1500ms);
    auto h = run.exec.enqueue(run.t.parent, 2);
    REQUIRE(engine_test::reaches(run.exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    run.slow->announce_resync();
    // The read has taken its snapshot: wake both now.
    REQUIRE(
      engine_test::eventually([&] { return run.slow->children_reads() >= 1; }));
    run.t.approve(run.client, 2);
    check_approved(await(h, durable::millis{30000}));
  }

  TEST_CASE("a parent sees children that finish while it stores them") {
    // The write storing the children answers late: both children are woken
    // and announced (without their rows, as from another process) before
    // the parent learns they are stored.
    approval_run run;
    run.slow->drop_event_rows();
    run.slow->delay_child_inserts(1500ms);
    auto h = run.exec.enqueue(run.t.parent, 2);
    REQUIRE(engine_test::eventually(
      [&] { return run.inner->children_of(h.execution_id()).size() == 2; }));
    run.t.approve(run.client, 2);
    check_approved(await(h, durable::millis{30000}));
    CHECK(run.slow->children_reads() == 1);
  }

  TEST_CASE("a parent with a finalize task reads its children once when "
            "their announcements come without rows") {
    // Children and the finalize task were stored by the parent's own
    // writes: it counts their announcements, reads all children once to
    // build the finalize input, and reads only the finalize row after it.
    auto slow = std::make_shared<engine_test::recording_store>();
    slow->drop_event_rows();
    durable::executor exec{slow, no_recheck_options()};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s},
      [](durable::task_context&, const int_input& in) { return describe(in); });
    auto parent = exec.parent_task<std::vector<int>, std::string>(
      {.id = "parent", .timeout = 5s}, spawn_all(child), fin);
    auto r = await(exec.enqueue(parent, std::vector<int>{1, 2, 3}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:2,4,6,");
    CHECK(slow->children_reads() == 1);
  }

  TEST_CASE("a parent whose children were announced with their rows reads "
            "none of them back") {
    // This node stored the children and the store announced each end with
    // the row as stored: nothing is left to read, with or without a
    // finalize task.
    auto slow = std::make_shared<engine_test::recording_store>();
    durable::executor exec{slow, no_recheck_options()};
    auto child = doubler(exec);
    auto fin = exec.task<int_input, std::string>(
      {.id = "fin", .timeout = 5s},
      [](durable::task_context&, const int_input& in) { return describe(in); });
    auto with_fin = exec.parent_task<std::vector<int>, std::string>(
      {.id = "with_fin", .timeout = 5s}, spawn_all(child), fin);
    auto plain = exec.parent_task<std::vector<int>, std::string>(
      {.id = "plain", .timeout = 5s}, spawn_all(child));
    auto r = await(exec.enqueue(with_fin, std::vector<int>{1, 2, 3}));
    REQUIRE(r.ok());
    CHECK(r.output == "spawned:2,4,6,");
    auto q = await(exec.enqueue(plain, std::vector<int>{4, 5}));
    REQUIRE(q.ok());
    REQUIRE(q.output->children.size() == 2);
    CHECK(q.output->children[0].output()->get<int>() == 8);
    CHECK(q.output->children[1].output()->get<int>() == 10);
    CHECK(slow->children_reads() == 0);
  }
}
