#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using namespace durable::test::common;
using durable::test::common::block_until;

struct person {
  std::string name;
  int age = 0;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(person, name, age)

} // namespace

TEST_SUITE("integration.task") {
  // -- completion
  // ---------------------------------------------------------------

  TEST_CASE("a task completes with the output of its body") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<std::string, std::string>(
      {.id = "greet", .timeout = 5s},
      [](durable::task_context&, const std::string& name) {
        return "Hello, " + name + "!";
      });
    auto r = finish(exec.enqueue(t, std::string{"world"}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "Hello, world!");
    CHECK(r.execution.output == "\"Hello, world!\"");
    CHECK(r.execution.attempt == 0);
    CHECK_FALSE(r.error().has_value());
  }

  TEST_CASE("a task whose body waits on asynchronous work completes") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "async_double", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   auto f = std::async(std::launch::async, [x] {
                                     std::this_thread::sleep_for(20ms);
                                     return 2 * x;
                                   });
                                   return f.get();
                                 });
    auto r = finish(exec.enqueue(t, 21));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 42);
  }

  TEST_CASE("a non blocking task runs on its actor and completes") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>(
      {.id = "inline_inc", .timeout = 5s, .may_block = false},
      [](durable::task_context&, int x) { return x + 1; });
    auto r = finish(exec.enqueue(t, 1));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 2);
  }

  TEST_CASE("a task enqueued without blocking completes") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "async_enqueue", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x * 3;
                                 });
    auto future = exec.enqueue_async(t, 5);
    auto r = finish(future.get());
    CHECK(r.output == 15);
  }

  TEST_CASE("a task enqueued as raw json text completes") {
    durable::executor exec{durable::test::make_store(), fast()};
    exec.task<person, std::string>({.id = "raw_person", .timeout = 5s},
                                   [](durable::task_context&, const person& p) {
                                     return p.name + ":"
                                            + std::to_string(p.age);
                                   });
    auto ids = exec.enqueue_raw("raw_person", {R"({"name":"ada","age":36})"});
    REQUIRE(ids.size() == 1);
    auto r = exec.wait(ids[0], guard);
    REQUIRE(r.has_value());
    CHECK(st(r->status) == "completed");
    CHECK(r->output == "\"ada:36\"");
  }

  TEST_CASE("many executions enqueued in one batch all complete") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>({.id = "square", .timeout = 5s},
                                 [&](durable::task_context&, int x) {
                                   ++runs;
                                   return x * x;
                                 });
    auto hs = exec.enqueue_many(t, std::vector<int>{1, 2, 3, 4, 5});
    REQUIRE(hs.size() == 5);
    for (int i = 0; i < 5; ++i)
      CHECK(finish(hs[static_cast<std::size_t>(i)]).output
            == (i + 1) * (i + 1));
    CHECK(runs == 5);
  }

  // -- input validation
  // ---------------------------------------------------------

  TEST_CASE(
    "a validator that accepts the input transforms it before the body") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task_with_validation<std::string, std::string>(
      {.id = "validated", .timeout = 5s},
      [&](durable::task_context&, const std::string& s) {
        ++runs;
        return s + "!";
      },
      [](std::string s) {
        if (s.empty())
          throw std::invalid_argument("must not be empty");
        for (auto& c : s)
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return s;
      });
    auto r = finish(exec.enqueue(t, std::string{"abc"}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "ABC!");
    CHECK(runs == 1);
  }

  TEST_CASE("an input the validator rejects fails without running the body") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task_with_validation<int, int>(
      {.id = "positive", .timeout = 5s, .retry = {.max_attempts = 3}},
      [&](durable::task_context&, int x) {
        ++runs;
        return x;
      },
      [](int x) {
        if (x <= 0)
          throw std::invalid_argument("must be positive");
        return x;
      });
    auto r = finish(exec.enqueue(t, -1));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message
          == "Invalid input to task positive: must be "
             "positive");
    CHECK(r.error()->kind == durable::error_kind::generic);
    CHECK_FALSE(r.error()->retryable);
    CHECK(r.execution.attempt == 0);
    CHECK(runs == 0);
  }

  TEST_CASE("a structured input that matches its schema is parsed") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<person, int>({.id = "age_next_year", .timeout = 5s},
                                    [](durable::task_context&,
                                       const person& p) { return p.age + 1; });
    auto r = finish(exec.enqueue(t, person{"grace", 41}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 42);
  }

  TEST_CASE("an untyped enqueue of an input that does not match its schema "
            "is refused, and nothing is stored") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<person, int>({.id = "schema_person", .timeout = 5s},
                                    [&](durable::task_context&,
                                        const person& p) {
                                      ++runs;
                                      return p.age;
                                    });
    exec.sequence("person_steps", t);
    auto refused = [&](const std::string& task,
                       std::vector<std::string> inputs) {
      try {
        exec.enqueue_raw(task, std::move(inputs));
      } catch (const durable::error& e) {
        CHECK_FALSE(e.is_retryable());
        return std::string{e.what()};
      }
      FAIL("the enqueue of " << task << " was not refused");
      return std::string{};
    };
    CHECK(refused("schema_person", {R"({"name":"x"})"})
            .rfind("Invalid input to task schema_person: ", 0)
          == 0);
    // A sequence's input goes to its first step as it is.
    CHECK(refused("person_steps", {"42"})
            .rfind("Invalid input to task schema_person: ", 0)
          == 0);
    // In a batch, the bad input is named by its place; none is stored.
    auto batch = refused("schema_person",
                         {R"({"name":"a","age":1})", R"({"age":2})"});
    CHECK(batch.find("[index=1]") != std::string::npos);
    CHECK(exec.storage()->count_by_status({}).empty());
    auto ok = exec.enqueue_raw("schema_person", {R"({"name":"a","age":1})"});
    auto r = exec.wait(ok.at(0), guard);
    REQUIRE(r.has_value());
    CHECK(st(r->status) == "completed");
    CHECK(runs == 1);
  }

  // -- errors and retries
  // -------------------------------------------------------

  TEST_CASE("a plain exception fails the task with a retryable generic error") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>({.id = "throws", .timeout = 5s},
                                 [&](durable::task_context&, int) -> int {
                                   ++runs;
                                   throw std::runtime_error("Test error");
                                 });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::generic);
    CHECK(r.error()->message == "Test error");
    CHECK(r.error()->retryable);
    CHECK_FALSE(r.error()->internal);
    CHECK_FALSE(r.output.has_value());
    CHECK(runs == 1);
  }

  TEST_CASE(
    "with one retry a task that fails once completes on its second run") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "fails_once", .timeout = 5s, .retry = {.max_attempts = 1}},
      [&](durable::task_context& ctx, int x) {
        ++runs;
        if (ctx.attempt == 0)
          throw std::runtime_error("first run fails");
        return x;
      });
    auto r = finish(exec.enqueue(t, 9));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 9);
    CHECK(r.execution.attempt == 1);
    CHECK(runs == 2);
  }

  TEST_CASE(
    "with one retry a task that always fails ends with its last error") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "always_fails", .timeout = 5s, .retry = {.max_attempts = 1}},
      [&](durable::task_context& ctx, int) -> int {
        ++runs;
        throw std::runtime_error("Test error " + std::to_string(ctx.attempt));
      });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "Test error 1");
    CHECK(r.execution.attempt == 1);
    CHECK(runs == 2);
  }

  TEST_CASE("a non retryable error is not retried") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "no_retry", .timeout = 5s, .retry = {.max_attempts = 5}},
      [&](durable::task_context&, int) -> int {
        ++runs;
        throw durable::error::non_retryable("permanent");
      });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "permanent");
    CHECK_FALSE(r.error()->retryable);
    CHECK(r.execution.attempt == 0);
    CHECK(runs == 1);
  }

  TEST_CASE("a not found error thrown by a body fails the task without retry") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "lookup", .timeout = 5s, .retry = {.max_attempts = 3}},
      [&](durable::task_context&, int) -> int {
        ++runs;
        throw durable::error::not_found("no such user");
      });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::not_found);
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs == 1);
  }

  TEST_CASE("a retry waits at least the base delay") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::vector<std::chrono::steady_clock::time_point> starts;
    std::mutex mtx;
    auto t = exec.task<int, int>(
      {.id = "delayed_retry",
       .timeout = 5s,
       .retry = {.max_attempts = 2, .base_delay = 100ms, .multiplier = 2.0}},
      [&](durable::task_context& ctx, int x) {
        {
          std::lock_guard lock{mtx};
          starts.push_back(std::chrono::steady_clock::now());
        }
        if (ctx.attempt < 2)
          throw std::runtime_error("again");
        return x;
      });
    auto r = finish(exec.enqueue(t, 1));
    CHECK(st(r.status()) == "completed");
    std::lock_guard lock{mtx};
    REQUIRE(starts.size() == 3);
    CHECK(starts[1] - starts[0] >= 100ms);
    CHECK(starts[2] - starts[1] >= 200ms);
  }

  TEST_CASE("a failed attempt waits for its retry as ready with its error") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "later_retry",
       .timeout = 5s,
       .retry = {.max_attempts = 1, .base_delay = 1h}},
      [&](durable::task_context&, int) -> int {
        ++runs;
        throw std::runtime_error("try again later");
      });
    auto h = exec.enqueue(t, 1);
    REQUIRE(eventually([&] { return h.get().attempt == 1; }));
    auto row = h.get();
    CHECK(st(row.status) == "ready");
    REQUIRE(row.error.has_value());
    CHECK(row.error->message == "try again later");
    CHECK(row.error->retryable);
    CHECK(row.start_at - row.updated_at == 1h);
    CHECK_FALSE(row.started_at.has_value());
    CHECK_FALSE(row.owner.has_value());
    CHECK(runs == 1);
    h.cancel();
    CHECK(st(finish(h).status()) == "cancelled");
  }

  // -- timeouts
  // -----------------------------------------------------------------

  TEST_CASE("a body that outlives its timeout ends timed_out with a retryable "
            "error") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>({.id = "slow", .timeout = 10ms},
                                 [&](durable::task_context&, int x) {
                                   ++runs;
                                   std::this_thread::sleep_for(100ms);
                                   return x;
                                 });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "timed_out");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::timed_out);
    CHECK(r.error()->message == "Task execution timed out");
    CHECK(r.error()->retryable);
    CHECK_FALSE(r.output.has_value());
    CHECK(runs == 1);
  }

  TEST_CASE("a timed out body sees its cancel token fire") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<bool> saw_stop{false};
    auto t = exec.task<int, int>({.id = "watch_timeout", .timeout = 20ms},
                                 [&](durable::task_context& ctx, int x) {
                                   saw_stop = block_until(ctx.cancel_token);
                                   return x;
                                 });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "timed_out");
    CHECK(eventually([&] { return saw_stop.load(); }));
  }

  TEST_CASE("a timed out run is retried when retries are left") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "slow_once", .timeout = 50ms, .retry = {.max_attempts = 1}},
      [&](durable::task_context& ctx, int x) {
        ++runs;
        if (ctx.attempt == 0)
          block_until(ctx.cancel_token);
        return x;
      });
    auto r = finish(exec.enqueue(t, 4));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 4);
    CHECK(r.execution.attempt == 1);
    CHECK(runs == 2);
  }

  TEST_CASE("an enqueue timeout override lets a slow task complete") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "slow_ok", .timeout = 10ms},
                                 [](durable::task_context&, int x) {
                                   std::this_thread::sleep_for(100ms);
                                   return x;
                                 });
    auto h = exec.enqueue(t, 3, {.timeout = 10s});
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 3);
    CHECK(r.execution.timeout == 10s);
  }

  TEST_CASE("a body that throws timed_out ends the task timed_out") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "throws_timeout", .timeout = 5s},
                                 [](durable::task_context&, int) -> int {
                                   throw durable::error::timed_out();
                                 });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "timed_out");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::timed_out);
  }

  TEST_CASE("an invalid timeout is rejected when the task is defined") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto e = error_of([&] {
      exec.task<int, int>({.id = "bad_timeout", .timeout = 0ms},
                          [](durable::task_context&, int x) { return x; });
    });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.rfind("Invalid timeout value for task "
                                       "bad_timeout",
                                       0)
          == 0);
    CHECK_FALSE(e->is_retryable());
    // Nothing was registered.
    CHECK_THROWS_WITH_AS(
      exec.enqueue(durable::task_ref<int, int>{"bad_timeout"}, 1),
      "Task not found [taskId=bad_timeout]", durable::error);
  }

  TEST_CASE("an invalid timeout override is rejected and stores nothing") {
    auto db = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{db, fast()};
    auto t = exec.task<int, int>({.id = "override_timeout", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    auto e = error_of([&] { exec.enqueue(t, 1, {.timeout = -5ms}); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.find("Invalid timeout value for task "
                                      "override_timeout")
          != std::string::npos);
    CHECK(db->size() == 0);
  }

  // -- cancellation
  // -------------------------------------------------------------

  TEST_CASE("a task cancelled before it starts never runs") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "cancel_early", .timeout = 5s, .sleep_before_run = 1h},
      [&](durable::task_context&, int x) {
        ++runs;
        return x;
      });
    auto h = exec.enqueue(t, 1);
    CHECK(st(h.get().status) == "ready");
    h.cancel();
    auto r = finish(h);
    CHECK(st(r.status()) == "cancelled");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->kind == durable::error_kind::cancelled);
    CHECK(r.error()->message == "Task execution cancelled");
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs == 0);
  }

  TEST_CASE("cancelling a running task ends it cancelled and fires its token") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<bool> started{false};
    std::atomic<bool> saw_cancel{false};
    auto t = exec.task<int, int>({.id = "cancel_running", .timeout = 60s},
                                 [&](durable::task_context& ctx, int x) {
                                   started = true;
                                   saw_cancel = block_until(ctx.cancel_token);
                                   return x;
                                 });
    auto h = exec.enqueue(t, 1);
    REQUIRE(eventually([&] { return started.load(); }));
    h.cancel();
    auto r = finish(h);
    CHECK(st(r.status()) == "cancelled");
    CHECK(r.error()->message == "Task execution cancelled");
    CHECK(eventually([&] { return saw_cancel.load(); }));
    // The late return of the body does not overwrite the cancellation.
    std::this_thread::sleep_for(50ms);
    CHECK(st(h.get().status) == "cancelled");
  }

  TEST_CASE("a cancelled body holds its slot until it returns") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<bool> started{false};
    std::atomic<bool> saw_cancel{false};
    std::atomic<bool> release{false};
    auto t = exec.task<int, int>({.id = "cancel_slot", .timeout = 60s},
                                 [&](durable::task_context& ctx, int x) {
                                   started = true;
                                   saw_cancel = block_until(ctx.cancel_token);
                                   block_until(release);
                                   return x;
                                 });
    auto h = exec.enqueue(t, 1);
    REQUIRE(eventually([&] { return started.load(); }));
    CHECK(exec.running_count() == 1);
    h.cancel();
    CHECK(st(finish(h).status()) == "cancelled");
    REQUIRE(eventually([&] { return saw_cancel.load(); }));
    CHECK(exec.running_count() == 1);
    release = true;
    CHECK(eventually([&] { return exec.running_count() == 0; }));
  }

  TEST_CASE("concurrent cancels before the start are safe") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "cancel_race_ready", .timeout = 5s, .sleep_before_run = 1h},
      [&](durable::task_context&, int x) {
        ++runs;
        return x;
      });
    auto h = exec.enqueue(t, 1);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] { h.cancel(); });
    for (auto& th : threads)
      th.join();
    auto r = finish(h);
    CHECK(st(r.status()) == "cancelled");
    CHECK(r.error()->message == "Task execution cancelled");
    CHECK(runs == 0);
  }

  TEST_CASE("concurrent cancels of a running task are safe") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    std::atomic<bool> started{false};
    auto t = exec.task<int, int>({.id = "cancel_race_running", .timeout = 60s},
                                 [&](durable::task_context& ctx, int x) {
                                   ++runs;
                                   started = true;
                                   block_until(ctx.cancel_token);
                                   return x;
                                 });
    auto h = exec.enqueue(t, 1);
    REQUIRE(eventually([&] { return started.load(); }));
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] { h.cancel(); });
    for (auto& th : threads)
      th.join();
    auto r = finish(h);
    CHECK(st(r.status()) == "cancelled");
    CHECK(eventually([&] { return exec.running_count() == 0; }));
    CHECK(runs == 1);
  }

  TEST_CASE("cancelling a finished execution changes nothing") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "done_then_cancel", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x + 1;
                                 });
    auto h = exec.enqueue(t, 1);
    auto before = finish(h);
    REQUIRE(st(before.status()) == "completed");
    h.cancel();
    auto after = exec.cancel(h.execution_id());
    CHECK(st(after.status) == "completed");
    CHECK(after.version == before.execution.version);
    CHECK(finish(h).output == 2);
  }

  TEST_CASE("a body that throws cancelled ends cancelled without retry") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "self_cancel", .timeout = 5s, .retry = {.max_attempts = 3}},
      [&](durable::task_context&, int) -> int {
        ++runs;
        throw durable::error::cancelled();
      });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(st(r.status()) == "cancelled");
    CHECK(r.error()->kind == durable::error_kind::cancelled);
    CHECK(runs == 1);
  }

  // -- context and delays
  // -------------------------------------------------------

  TEST_CASE("the context names the execution and its root") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::promise<durable::task_context> seen;
    auto t = exec.task<int, int>({.id = "ctx_ids", .timeout = 5s},
                                 [&](durable::task_context& ctx, int x) {
                                   seen.set_value(ctx);
                                   return x;
                                 });
    auto h = exec.enqueue(t, 1);
    finish(h);
    auto f = seen.get_future();
    REQUIRE(f.wait_for(guard) == std::future_status::ready);
    auto ctx = f.get();
    CHECK(ctx.task_id == "ctx_ids");
    CHECK(ctx.execution_id == h.execution_id());
    CHECK(ctx.root.execution_id == h.execution_id());
    CHECK(ctx.root.task_id == "ctx_ids");
    CHECK_FALSE(ctx.parent.has_value());
    CHECK(ctx.attempt == 0);
    CHECK_FALSE(ctx.previous_error.has_value());
  }

  TEST_CASE("attempt and previous error progress across retries") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::mutex mtx;
    std::vector<int> attempts;
    std::vector<std::optional<durable::execution_error>> prev;
    auto t = exec.task<int, int>(
      {.id = "progress", .timeout = 5s, .retry = {.max_attempts = 2}},
      [&](durable::task_context& ctx, int x) {
        {
          std::lock_guard lock{mtx};
          attempts.push_back(ctx.attempt);
          prev.push_back(ctx.previous_error);
        }
        if (ctx.attempt < 2)
          throw std::runtime_error("fail " + std::to_string(ctx.attempt));
        return x;
      });
    auto r = finish(exec.enqueue(t, 7));
    CHECK(st(r.status()) == "completed");
    std::lock_guard lock{mtx};
    CHECK(attempts == std::vector<int>{0, 1, 2});
    REQUIRE(prev.size() == 3);
    CHECK_FALSE(prev[0].has_value());
    REQUIRE(prev[1].has_value());
    CHECK(prev[1]->message == "fail 0");
    CHECK(prev[1]->retryable);
    REQUIRE(prev[2].has_value());
    CHECK(prev[2]->message == "fail 1");
  }

  TEST_CASE("sleep before run delays the first start") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>(
      {.id = "sleepy", .timeout = 5s, .sleep_before_run = 250ms},
      [](durable::task_context&, int x) { return x; });
    auto h = exec.enqueue(t, 1);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.execution.started_at.has_value());
    CHECK(*r.execution.started_at - r.execution.created_at >= 250ms);
    CHECK(r.execution.start_at - r.execution.created_at == 250ms);
  }

  TEST_CASE("an enqueue override of sleep before run delays the first start") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "sleepy_override", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    auto r = finish(exec.enqueue(t, 1, {.sleep_before_run = 200ms}));
    REQUIRE(r.execution.started_at.has_value());
    CHECK(*r.execution.started_at - r.execution.created_at >= 200ms);
    CHECK(r.execution.sleep_before_run == 200ms);
  }

  TEST_CASE("a retry does not wait for sleep before run again") {
    // The store's clock stands still unless moved: a retry that waited for
    // sleep_before_run again would never become due.
    using durable::timestamp;
    std::atomic<std::int64_t> now_us{durable::to_micros(durable::system_now())};
    auto db = std::make_shared<durable::storage::memory_store>(
      [&] { return durable::from_micros(now_us.load()); });
    durable::executor exec{db, fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>({.id = "sleep_once",
                                  .timeout = 5s,
                                  .retry = {.max_attempts = 1},
                                  .sleep_before_run = 1h},
                                 [&](durable::task_context& ctx, int x) {
                                   ++runs;
                                   if (ctx.attempt == 0)
                                     throw std::runtime_error("retry me");
                                   return x;
                                 });
    auto h = exec.enqueue(t, 5);
    auto created = durable::from_micros(now_us.load());
    CHECK(st(h.get().status) == "ready");
    CHECK(runs == 0);
    now_us += std::chrono::duration_cast<std::chrono::microseconds>(1h).count();
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 5);
    CHECK(runs == 2);
    CHECK(r.execution.created_at == created);
    CHECK(r.execution.start_at == created + 1h);
  }

  TEST_CASE("a negative sleep before run is rejected") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto e = error_of([&] {
      exec.task<int, int>(
        {.id = "neg_sleep", .timeout = 5s, .sleep_before_run = -1ms},
        [](durable::task_context&, int x) { return x; });
    });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.rfind("Invalid sleep ms before run for task "
                                       "neg_sleep",
                                       0)
          == 0);
    auto t = exec.task<int, int>({.id = "pos_sleep", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    CHECK_THROWS_WITH_AS(exec.enqueue(t, 1, {.sleep_before_run = -10ms}),
                         doctest::Contains("Invalid sleep ms before run"),
                         durable::error);
  }

  TEST_CASE("negative or too many max attempts are rejected") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto e = error_of([&] {
      exec.task<int, int>(
        {.id = "neg_retry", .timeout = 5s, .retry = {.max_attempts = -1}},
        [](durable::task_context&, int x) { return x; });
    });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.rfind("Invalid retry options for task "
                                       "neg_retry",
                                       0)
          == 0);
    auto too_many = [&] {
      exec.task<int, int>(
        {.id = "many_retry", .timeout = 5s, .retry = {.max_attempts = 1001}},
        [](durable::task_context&, int x) { return x; });
    };
    CHECK_THROWS_WITH_AS(too_many(),
                         doctest::Contains("Invalid retry options for task "
                                           "many_retry"),
                         durable::error);
    auto t = exec.task<int, int>({.id = "ok_retry", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    CHECK_THROWS_AS(
      exec.enqueue(t, 1, {.retry = durable::retry_options{.max_attempts = -3}}),
      durable::error);
  }

  // -- shutdown
  // -----------------------------------------------------------------

  TEST_CASE("a running body observes shutdown and ends cancelled") {
    auto db = durable::test::make_store();
    std::atomic<bool> started{false};
    std::atomic<bool> saw_shutdown{false};
    std::string id;
    {
      durable::executor exec{db, fast()};
      auto t = exec.task<int, int>({.id = "until_shutdown", .timeout = 60s},
                                   [&](durable::task_context& ctx, int) -> int {
                                     started = true;
                                     saw_shutdown = block_until(
                                       ctx.shutdown_token);
                                     throw durable::error::cancelled();
                                   });
      auto h = exec.enqueue(t, 1);
      id = h.execution_id();
      REQUIRE(eventually([&] { return started.load(); }));
      exec.shutdown();
      CHECK(exec.is_shut_down());
      CHECK(saw_shutdown);
      CHECK(st(h.get().status) == "cancelled");
    }
    auto row = db->get(id);
    REQUIRE(row.has_value());
    CHECK(st(row->status) == "cancelled");
    REQUIRE(row->error.has_value());
    CHECK(row->error->kind == durable::error_kind::cancelled);
  }

  TEST_CASE("enqueue after shutdown is refused") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>({.id = "late", .timeout = 5s},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    exec.shutdown();
    CHECK_THROWS_WITH_AS(exec.enqueue(t, 1), "Durable executor shutdown",
                         durable::error);
  }

  // -- size limits
  // --------------------------------------------------------------

  TEST_CASE("an input over the size cap is rejected at enqueue") {
    auto db = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{db, fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<std::string, int>({.id = "big_input", .timeout = 5s},
                                         [&](durable::task_context&,
                                             const std::string& s) {
                                           ++runs;
                                           return static_cast<int>(s.size());
                                         });
    auto e = error_of(
      [&] { exec.enqueue(t, std::string(1024 * 1024 + 10, 'x')); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.rfind(
            "Serialized data size exceeds maximum allowed size", 0)
          == 0);
    CHECK_FALSE(e->is_retryable());
    CHECK(db->size() == 0);
    CHECK(runs == 0);
  }

  TEST_CASE("an output over the size cap fails the task without retry") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, std::string>(
      {.id = "big_output", .timeout = 5s, .retry = {.max_attempts = 2}},
      [&](durable::task_context&, int n) {
        ++runs;
        return std::string(static_cast<std::size_t>(n), 'y');
      });
    auto r = finish(exec.enqueue(t, 1024 * 1024 + 10));
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.find("size") != std::string::npos);
    CHECK(r.error()->message.rfind(
            "Serialized data size exceeds maximum allowed size", 0)
          == 0);
    CHECK_FALSE(r.error()->retryable);
    CHECK_FALSE(r.execution.output.has_value());
    CHECK(runs == 1);
  }

  // -- closure
  // ------------------------------------------------------------------

  TEST_CASE("a finished execution is closed no earlier than it finished") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto ok = exec.task<int, int>({.id = "close_ok", .timeout = 5s},
                                  [](durable::task_context&, int x) {
                                    return x;
                                  });
    auto bad = exec.task<int, int>({.id = "close_bad", .timeout = 5s},
                                   [](durable::task_context&, int) -> int {
                                     throw std::runtime_error("bad");
                                   });
    for (auto r : {finish(exec.enqueue(ok, 1)).execution,
                   finish(exec.enqueue(bad, 1)).execution}) {
      REQUIRE(r.finished_at.has_value());
      REQUIRE(r.closed_at.has_value());
      CHECK(*r.closed_at >= *r.finished_at);
      CHECK(*r.finished_at >= r.created_at);
      CHECK_FALSE(r.owner.has_value());
      CHECK_FALSE(r.lease_expires_at.has_value());
    }
  }

} // TEST_SUITE
