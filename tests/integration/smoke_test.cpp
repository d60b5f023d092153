#include <atomic>

#include <doctest/doctest.h>

#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

TEST_SUITE("integration.smoke") {
  TEST_CASE("a plain task completes with its output") {
    durable::executor exec{durable::test::make_store(),
                           {.poll_interval = 50ms}};
    auto add_one = exec.task<int, int>({.id = "add_one", .timeout = 5s},
                                       [](durable::task_context&, int x) {
                                         return x + 1;
                                       });
    auto h = exec.enqueue(add_one, 41);
    auto r = h.wait();
    CHECK(r.ok());
    CHECK(r.output == 42);
  }

  TEST_CASE("a parent fans out and its finalize sees every child in order") {
    durable::executor exec{durable::test::make_store(),
                           {.poll_interval = 50ms}};
    auto twice = exec.task<int, int>({.id = "twice", .timeout = 5s},
                                     [](durable::task_context&, int x) {
                                       return 2 * x;
                                     });
    auto sum = exec.parent_task<std::vector<int>, std::string>(
      {.id = "sum", .timeout = 5s},
      [&](durable::task_context&, const std::vector<int>& xs) {
        durable::parent_output<std::string> out{.output = "spawned"};
        for (int x : xs)
          out.children.add(twice, x);
        return out;
      },
      durable::finalize(
        [](const durable::finalize_input<std::string, int>& in) {
          int total = 0;
          for (auto& c : in.children)
            total = total * 10 + c.output().value_or(0);
          return total;
        }));
    auto r = exec.enqueue(sum, std::vector<int>{1, 2, 3}).wait();
    CHECK(r.ok());
    CHECK(r.output == 246);
  }

  TEST_CASE("a task that fails twice then succeeds is retried") {
    durable::executor exec{durable::test::make_store(),
                           {.poll_interval = 50ms}};
    std::atomic<int> runs{0};
    auto flaky = exec.task<int, int>(
      {.id = "flaky", .timeout = 5s, .retry = {.max_attempts = 3}},
      [&](durable::task_context& ctx, int x) {
        ++runs;
        if (ctx.attempt < 2)
          throw std::runtime_error("boom");
        return x;
      });
    auto r = exec.enqueue(flaky, 7).wait();
    CHECK(r.ok());
    CHECK(r.output == 7);
    CHECK(r.execution.attempt == 2);
    CHECK(runs == 3);
  }

  TEST_CASE("a chain pipes outputs and a sleeper is woken") {
    durable::executor exec{durable::test::make_store(),
                           {.poll_interval = 50ms}};
    auto inc = exec.task<int, int>({.id = "inc", .timeout = 5s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto show = exec.task<int, std::string>({.id = "show", .timeout = 5s},
                                            [](durable::task_context&, int x) {
                                              return std::to_string(x);
                                            });
    auto chain = exec.sequence("chain", inc, inc, show);
    CHECK(exec.enqueue(chain, 1).wait().output == "3");
    auto approval = exec.sleeping_task<bool>(
      {.id = "approval", .timeout = 10s});
    auto h = exec.enqueue(approval, std::string{"order-42"});
    exec.wake(approval, "order-42", durable::completed(true));
    auto r = h.wait();
    CHECK(r.ok());
    CHECK(r.output == true);
  }
}
