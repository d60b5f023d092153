#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "common.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using namespace durable::test::common;

/// Waits until a sleeping execution with `sleeping_id` is stored.
bool sleeper_exists(durable::executor& exec, const std::string& sleeping_id) {
  return eventually([&] {
    return exec.storage()->get_by_sleeping_id(sleeping_id).has_value();
  });
}

/// The stored children of `parent_id`, in the parent's order.
std::vector<durable::execution_record>
children_of(durable::executor& exec, const std::string& parent_id) {
  std::vector<durable::execution_record> kids;
  for (const auto& ref : exec.get(parent_id).children)
    kids.push_back(exec.get(ref.execution_id));
  return kids;
}

} // namespace

TEST_SUITE("integration.chains") {
  // -- sequences
  // ----------------------------------------------------------------

  TEST_CASE("a sequence pipes string to number to boolean through validators") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto to_number = exec.task_with_validation<std::string, int>(
      {.id = "to_number", .timeout = 5s},
      [](durable::task_context&, const std::string& s) { return std::stoi(s); },
      [](std::string s) {
        if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
          throw std::invalid_argument("not a number");
        return s;
      });
    auto is_big = exec.task_with_validation<int, bool>(
      {.id = "is_big", .timeout = 5s},
      [](durable::task_context&, int x) { return x > 10; },
      [](int x) {
        if (x < 0)
          throw std::invalid_argument("negative");
        return x;
      });
    auto describe = exec.task<bool, std::string>(
      {.id = "describe", .timeout = 5s}, [](durable::task_context&, bool b) {
        return std::string{b ? "big" : "small"};
      });
    auto seq = exec.sequence("convert", to_number, is_big, describe);
    auto big = finish(exec.enqueue(seq, std::string{"42"}));
    CHECK(st(big.status()) == "completed");
    CHECK(big.output == "big");
    CHECK(finish(exec.enqueue(seq, std::string{"7"})).output == "small");
  }

  TEST_CASE("a transforming validator on the first step feeds the chain") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto trim = exec.task_with_validation<std::string, std::size_t>(
      {.id = "trimmed_length", .timeout = 5s},
      [](durable::task_context&, const std::string& s) { return s.size(); },
      [](std::string s) {
        auto b = s.find_first_not_of(' ');
        auto e = s.find_last_not_of(' ');
        return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
      });
    auto twice = exec.task<std::size_t, std::size_t>(
      {.id = "twice_len", .timeout = 5s},
      [](durable::task_context&, std::size_t n) { return 2 * n; });
    auto seq = exec.sequence("trim_chain", trim, twice);
    auto r = finish(exec.enqueue(seq, std::string{"   abcd  "}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 8u);
  }

  TEST_CASE("an empty sequence is rejected with No tasks provided") {
    durable::executor exec{durable::test::make_store(), fast()};
    durable::task_definition def;
    def.kind = durable::task_kind::sequence;
    def.options = {.id = "empty_seq", .timeout = 30s};
    CHECK_THROWS_WITH_AS(exec.add(std::move(def)), "No tasks provided",
                         durable::error);
  }

  TEST_CASE("a sequence with an unregistered step is rejected") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto first = exec.task<int, int>({.id = "first_ok", .timeout = 5s},
                                     [](durable::task_context&, int x) {
                                       return x;
                                     });
    durable::task_ref<int, int> ghost{"ghost"};
    CHECK_THROWS_WITH_AS(exec.sequence("ghost_seq", first, ghost),
                         "Task not found [taskId=ghost]", durable::error);
  }

  TEST_CASE("a failing second step fails the sequence and skips the third") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs1{0};
    std::atomic<int> runs3{0};
    auto s1 = exec.task<int, int>({.id = "step_one", .timeout = 5s},
                                  [&](durable::task_context&, int x) {
                                    ++runs1;
                                    return x + 1;
                                  });
    auto s2 = exec.task<int, int>({.id = "step_two", .timeout = 5s},
                                  [](durable::task_context&, int) -> int {
                                    throw std::runtime_error("step two broke");
                                  });
    auto s3 = exec.task<int, int>({.id = "step_three", .timeout = 5s},
                                  [&](durable::task_context&, int x) {
                                    ++runs3;
                                    return x;
                                  });
    auto seq = exec.sequence("seq", s1, s2, s3);
    auto r = finish(exec.enqueue(seq, 1));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Sequential task failed [parentTaskId=seq] [index=1]: step two "
             "broke");
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs1 == 1);
    CHECK(runs3 == 0);
    CHECK(r.execution.children.size() == 2);
  }

  TEST_CASE("cancelling a sequence mid step cancels it and its running step") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<bool> started{false};
    std::atomic<bool> saw_cancel{false};
    std::atomic<int> runs2{0};
    auto s1 = exec.task<int, int>({.id = "long_step", .timeout = 60s},
                                  [&](durable::task_context& ctx, int x) {
                                    started = true;
                                    saw_cancel = block_until(ctx.cancel_token);
                                    return x;
                                  });
    auto s2 = exec.task<int, int>({.id = "after_long", .timeout = 5s},
                                  [&](durable::task_context&, int x) {
                                    ++runs2;
                                    return x;
                                  });
    auto seq = exec.sequence("cancel_seq", s1, s2);
    auto h = exec.enqueue(seq, 1);
    REQUIRE(eventually([&] { return started.load(); }));
    h.cancel();
    auto r = finish(h);
    CHECK(st(r.status()) == "cancelled");
    CHECK(eventually([&] { return saw_cancel.load(); }));
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 1);
    CHECK(st(kids[0].status) == "cancelled");
    std::this_thread::sleep_for(50ms);
    CHECK(runs2 == 0);
  }

  TEST_CASE("a timed out step fails the sequence with the timeout message") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto slow = exec.task<int, int>({.id = "slow_step", .timeout = 20ms},
                                    [](durable::task_context& ctx, int x) {
                                      block_until(ctx.cancel_token);
                                      return x;
                                    });
    auto next = exec.task<int, int>({.id = "never_step", .timeout = 5s},
                                    [](durable::task_context&, int x) {
                                      return x;
                                    });
    auto seq = exec.sequence("seq_timeout", slow, next);
    auto r = finish(exec.enqueue(seq, 1));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Sequential task failed [parentTaskId=seq_timeout] [index=0]: "
             "Task execution timed out");
  }

  TEST_CASE("a single step sequence completes with the step output") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto only = exec.task<int, std::string>({.id = "only_step", .timeout = 5s},
                                            [](durable::task_context&, int x) {
                                              return "got " + std::to_string(x);
                                            });
    auto seq = exec.sequence("single", only);
    auto r = finish(exec.enqueue(seq, 5));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "got 5");
  }

  TEST_CASE("a single step sequence fails when its step fails") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto only = exec.task<int, int>({.id = "only_bad", .timeout = 5s},
                                    [](durable::task_context&, int) -> int {
                                      throw durable::error::non_retryable(
                                        "nope");
                                    });
    auto seq = exec.sequence("single_fail", only);
    auto r = finish(exec.enqueue(seq, 5));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Sequential task failed [parentTaskId=single_fail] [index=0]: "
             "nope");
  }

  TEST_CASE("a step retries on its own before the sequence goes on") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto flaky = exec.task<int, int>(
      {.id = "flaky_step", .timeout = 5s, .retry = {.max_attempts = 2}},
      [&](durable::task_context& ctx, int x) {
        ++runs;
        if (ctx.attempt < 2)
          throw std::runtime_error("transient");
        return x * 10;
      });
    auto inc = exec.task<int, int>({.id = "inc_step", .timeout = 5s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto seq = exec.sequence("retry_seq", flaky, inc);
    auto r = finish(exec.enqueue(seq, 4));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 41);
    CHECK(runs == 3);
  }

  TEST_CASE("sequence steps are children in order under the same root") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto inc = exec.task<int, int>({.id = "inc_child", .timeout = 5s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto seq = exec.sequence("three_incs", inc, inc, inc);
    auto h = exec.enqueue(seq, 0);
    auto r = finish(h);
    CHECK(r.output == 3);
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 3);
    for (std::size_t i = 0; i < kids.size(); ++i) {
      CAPTURE(i);
      CHECK(st(kids[i].status) == "completed");
      REQUIRE(kids[i].parent.has_value());
      CHECK(kids[i].parent->execution_id == h.execution_id());
      CHECK(kids[i].parent->index == i);
      CHECK_FALSE(kids[i].parent->is_finalize);
      CHECK(kids[i].root.execution_id == h.execution_id());
      CHECK(kids[i].input == std::to_string(i));
    }
  }

  TEST_CASE("a sequence of three sleeping tasks is chained by unique ids") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s1 = exec.sleeping_task<std::string>(
      {.id = "sleep_a", .timeout = 60s});
    auto s2 = exec.sleeping_task<std::string>(
      {.id = "sleep_b", .timeout = 60s});
    auto s3 = exec.sleeping_task<std::string>(
      {.id = "sleep_c", .timeout = 60s});
    auto seq = exec.sequence("sleepers", s1, s2, s3);
    auto h = exec.enqueue(seq, std::string{"uid_1"});
    REQUIRE(sleeper_exists(exec, "uid_1"));
    auto w1 = exec.wake(s1, "uid_1", durable::completed(std::string{"uid_2"}));
    CHECK(st(w1.status) == "completed");
    REQUIRE(sleeper_exists(exec, "uid_2"));
    exec.wake(s2, "uid_2", durable::completed(std::string{"uid_3"}));
    REQUIRE(sleeper_exists(exec, "uid_3"));
    exec.wake(s3, "uid_3", durable::completed(std::string{"all awake"}));
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "all awake");
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 3);
    CHECK(kids[0].sleeping_id == "uid_1");
    CHECK(kids[1].sleeping_id == "uid_2");
    CHECK(kids[2].sleeping_id == "uid_3");
  }

  // -- loops
  // --------------------------------------------------------------------

  TEST_CASE("a loop completes when an iteration reports done") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto it = exec.task<int, durable::loop_step<std::string>>(
      {.id = "until_three", .timeout = 5s},
      [&](durable::task_context& ctx, int base) {
        ++runs;
        REQUIRE(ctx.parent.has_value());
        auto k = static_cast<int>(ctx.parent->index);
        if (k < 2)
          return durable::loop_step<std::string>::again();
        return durable::loop_step<std::string>::finished(
          "done at " + std::to_string(base + k));
      });
    auto loop = exec.looping_task("loop3", it, 5);
    auto h = exec.enqueue(loop, 100);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK(r.output->is_success);
    CHECK(r.output->output == "done at 102");
    CHECK(runs == 3);
    CHECK(children_of(exec, h.execution_id()).size() == 3);
  }

  TEST_CASE("a loop iteration with a validator receives the loop input") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto it = exec.task_with_validation<int, durable::loop_step<int>>(
      {.id = "validated_iteration", .timeout = 5s},
      [&](durable::task_context&, int x) {
        return ++runs == 2 ? durable::loop_step<int>::finished(x)
                           : durable::loop_step<int>::again();
      },
      [](int x) {
        if (x < 0)
          throw std::invalid_argument("negative");
        return x * 2;
      });
    auto loop = exec.looping_task("validated_loop", it, 4);
    auto r = finish(exec.enqueue(loop, 21));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK(r.output->is_success);
    CHECK(r.output->output == 42);
    CHECK(runs == 2);
  }

  TEST_CASE("an iteration that rejects its input fails the loop") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto it = exec.task_with_validation<int, durable::loop_step<int>>(
      {.id = "strict_iteration", .timeout = 5s},
      [](durable::task_context&, int x) {
        return durable::loop_step<int>::finished(x);
      },
      [](int x) {
        if (x < 0)
          throw std::invalid_argument("negative");
        return x;
      });
    auto loop = exec.looping_task("strict_loop", it, 4);
    auto r = finish(exec.enqueue(loop, -1));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Iteration task failed [taskId=strict_iteration]: Invalid input "
             "to task strict_iteration: negative");
  }

  TEST_CASE("an iteration error fails the loop with the iteration message") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "iteration", .timeout = 5s},
      [&](durable::task_context&, int) -> durable::loop_step<int> {
        if (++runs == 2)
          throw std::runtime_error("unknown error");
        return durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("failing_loop", it, 5);
    auto r = finish(exec.enqueue(loop, 0));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Iteration task failed [taskId=iteration]: unknown error");
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs == 2);
  }

  TEST_CASE("a loop that is never done completes unsuccessfully after max "
            "iterations") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "never_done", .timeout = 5s}, [&](durable::task_context&, int) {
        ++runs;
        return durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("bounded_loop", it, 3);
    auto r = finish(exec.enqueue(loop, 0));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK_FALSE(r.output->is_success);
    CHECK_FALSE(r.output->output.has_value());
    CHECK(runs == 3);
  }

  TEST_CASE("a loop with no positive max iterations is rejected") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "some_iteration", .timeout = 5s},
      [](durable::task_context&, int x) {
        return durable::loop_step<int>::finished(x);
      });
    CHECK_THROWS_AS(exec.looping_task("zero_loop", it, 0), durable::error);
    auto e = error_of([&] { exec.looping_task("neg_loop", it, -2); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.find("neg_loop") != std::string::npos);
    CHECK_FALSE(e->is_retryable());
  }

  TEST_CASE("a constant loop pause delays every iteration") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "paused_iteration", .timeout = 5s},
      [](durable::task_context& ctx, int) {
        auto k = static_cast<int>(ctx.parent->index);
        return k == 2 ? durable::loop_step<int>::finished(k)
                      : durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("paused_loop", it, 5,
                                  [](int) { return durable::millis{60}; });
    auto h = exec.enqueue(loop, 0);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output->output == 2);
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 3);
    for (auto& k : kids) {
      CHECK(k.start_at - k.created_at == 60ms);
      REQUIRE(k.started_at.has_value());
      CHECK(*k.started_at - k.created_at >= 60ms);
    }
  }

  TEST_CASE("a loop pause given as a function of the iteration is applied") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::vector<int> asked;
    std::mutex mtx;
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "fn_paused_iteration", .timeout = 5s},
      [](durable::task_context& ctx, int) {
        auto k = static_cast<int>(ctx.parent->index);
        return k == 3 ? durable::loop_step<int>::finished(k)
                      : durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("fn_paused_loop", it, 5, [&](int k) {
      std::lock_guard lock{mtx};
      asked.push_back(k);
      return durable::millis{k * 40};
    });
    auto h = exec.enqueue(loop, 0);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 4);
    for (std::size_t k = 0; k < kids.size(); ++k) {
      CAPTURE(k);
      auto pause = durable::millis{static_cast<int>(k) * 40};
      CHECK(kids[k].start_at - kids[k].created_at == pause);
      REQUIRE(kids[k].started_at.has_value());
      CHECK(*kids[k].started_at - kids[k].created_at >= pause);
    }
    std::lock_guard lock{mtx};
    CHECK(asked == std::vector<int>{0, 1, 2, 3});
  }

  TEST_CASE("without a pause function iterations use their own sleep before "
            "run") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "self_paused", .timeout = 5s, .sleep_before_run = 50ms},
      [](durable::task_context& ctx, int) {
        auto k = static_cast<int>(ctx.parent->index);
        return k == 1 ? durable::loop_step<int>::finished(k)
                      : durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("default_pause_loop", it, 3);
    auto h = exec.enqueue(loop, 0);
    CHECK(st(finish(h).status()) == "completed");
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 2);
    for (auto& k : kids)
      CHECK(k.start_at - k.created_at == 50ms);
  }

  TEST_CASE("cancelling a loop cancels its running iteration") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<bool> started{false};
    std::atomic<bool> saw_cancel{false};
    auto it = exec.task<int, durable::loop_step<int>>(
      {.id = "blocking_iteration", .timeout = 60s},
      [&](durable::task_context& ctx, int) {
        started = true;
        saw_cancel = block_until(ctx.cancel_token);
        return durable::loop_step<int>::again();
      });
    auto loop = exec.looping_task("cancel_loop", it, 3);
    auto h = exec.enqueue(loop, 0);
    REQUIRE(eventually([&] { return started.load(); }));
    h.cancel();
    CHECK(st(finish(h).status()) == "cancelled");
    CHECK(eventually([&] { return saw_cancel.load(); }));
    auto kids = children_of(exec, h.execution_id());
    REQUIRE(kids.size() == 1);
    CHECK(st(kids[0].status) == "cancelled");
  }

  // -- sleeping tasks
  // -----------------------------------------------------------

  TEST_CASE("a sleeping execution starts running with its unique id") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "sleeper", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"wait_here"});
    auto row = h.get();
    CHECK(st(row.status) == "running");
    CHECK(row.sleeping_id == "wait_here");
    CHECK(row.input == "null");
    REQUIRE(row.started_at.has_value());
    REQUIRE(row.expires_at.has_value());
    CHECK(*row.expires_at - row.created_at == 60s);
    CHECK_FALSE(h.wait_for(50ms).has_value());
  }

  TEST_CASE("waking a sleeping execution completes it with the output") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<std::string>(
      {.id = "approval", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"order_1"});
    auto woken = exec.wake(s, "order_1",
                           durable::completed(std::string{"approved"}));
    CHECK(st(woken.status) == "completed");
    CHECK(woken.id == h.execution_id());
    CHECK(woken.output == "\"approved\"");
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "approved");
    CHECK(r.execution.finished_at.has_value());
  }

  TEST_CASE("waking a sleeping execution with a failure fails it") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "fail_me", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"f1"});
    auto woken = exec.wake(s, "f1", durable::failed("rejected by reviewer"));
    CHECK(st(woken.status) == "failed");
    auto r = finish(h);
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "rejected by reviewer");
    CHECK(r.error()->kind == durable::error_kind::generic);
    CHECK_FALSE(r.error()->retryable);
  }

  TEST_CASE("a sleeping execution nobody wakes times out") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "short_nap", .timeout = 50ms});
    auto h = exec.enqueue(s, std::string{"nap"});
    auto r = finish(h);
    CHECK(st(r.status()) == "timed_out");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::timed_out);
    CHECK(r.error()->message == "Task execution timed out");
    REQUIRE(r.execution.finished_at.has_value());
    CHECK(*r.execution.finished_at - r.execution.created_at >= 50ms);
  }

  TEST_CASE("an enqueue timeout override applies to a sleeping execution") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "long_nap", .timeout = 1h});
    auto h = exec.enqueue(s, std::string{"nap2"}, {.timeout = 40ms});
    auto done = finish(h);
    CHECK(st(done.status()) == "timed_out");
    CHECK(done.execution.timeout == 40ms);
    // The deadline counts from the enqueue, whatever the store's latency.
    CHECK(*done.execution.finished_at - done.execution.created_at >= 40ms);
  }

  TEST_CASE("waking a cancelled sleeping execution returns it cancelled") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "cancel_sleep", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"c1"});
    h.cancel();
    CHECK(st(finish(h).status()) == "cancelled");
    auto woken = exec.wake(s, "c1", durable::completed(5));
    CHECK(st(woken.status) == "cancelled");
    CHECK_FALSE(woken.output.has_value());
    CHECK(woken.error->message == "Task execution cancelled");
  }

  TEST_CASE("waking an already woken execution returns it unchanged") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "wake_twice", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"w2"});
    auto first = exec.wake(s, "w2", durable::completed(1));
    auto second = exec.wake(s, "w2", durable::completed(2));
    CHECK(st(second.status) == "completed");
    CHECK(second.output == "1");
    CHECK(second.version == first.version);
    auto third = exec.wake(s, "w2", durable::failed("too late"));
    CHECK(st(third.status) == "completed");
    CHECK(finish(h).output == 1);
  }

  TEST_CASE("waking through a task that is not sleeping is refused") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto plain = exec.task<std::string, int>(
      {.id = "plain", .timeout = 5s},
      [](durable::task_context&, const std::string&) { return 1; });
    auto e = error_of(
      [&] { exec.wake_raw(plain.id(), "anything", std::string{"1"}, {}); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.find("not a sleeping task")
          != std::string::npos);
  }

  TEST_CASE("waking an unknown unique id throws not found") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "lonely", .timeout = 60s});
    auto e = error_of([&] { exec.wake(s, "nobody", durable::completed(1)); });
    REQUIRE(e.has_value());
    CHECK(e->kind() == durable::error_kind::not_found);
  }

  TEST_CASE("waking through the wrong sleeping task throws not found") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto a = exec.sleeping_task<int>({.id = "sleeper_a", .timeout = 60s});
    auto b = exec.sleeping_task<int>({.id = "sleeper_b", .timeout = 60s});
    auto h = exec.enqueue(a, std::string{"shared"});
    auto e = error_of([&] { exec.wake(b, "shared", durable::completed(1)); });
    REQUIRE(e.has_value());
    CHECK(e->kind() == durable::error_kind::not_found);
    CHECK(st(h.get().status) == "running");
  }

  TEST_CASE("a sleeping unique id can never be used twice") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<int>({.id = "unique_sleep", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"once"});
    CHECK_THROWS_WITH_AS(exec.enqueue(s, std::string{"once"}),
                         doctest::Contains("once"), durable::error);
    exec.wake(s, "once", durable::completed(1));
    CHECK(st(finish(h).status()) == "completed");
    CHECK_THROWS_AS(exec.enqueue(s, std::string{"once"}), durable::error);
  }

  TEST_CASE("an oversize wake output is refused and the sleeper keeps "
            "sleeping") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<std::string>(
      {.id = "big_wake", .timeout = 60s});
    auto h = exec.enqueue(s, std::string{"big"});
    auto e = error_of([&] {
      exec.wake(s, "big",
                durable::completed(std::string(1024 * 1024 + 1, 'z')));
    });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.rfind(
            "Serialized data size exceeds maximum allowed size", 0)
          == 0);
    CHECK(st(h.get().status) == "running");
  }

} // TEST_SUITE
