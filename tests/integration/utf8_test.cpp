#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "durable/durable.hpp"
#include "support/store_factory.hpp"

// One rule on every store (durable/utf8.hpp): invalid UTF-8 in an error
// message becomes U+FFFD; an input, idempotency key or sleeping id that is
// not valid UTF-8 (or holds a NUL) is refused to its caller; such an output
// fails its own execution, never retried. On PostgreSQL one bad byte used
// to fail the whole statement, and with it every row in the same batch.

using namespace std::chrono_literals;

namespace {

using namespace durable::test::common;

const std::string fffd = "\xEF\xBF\xBD";

/// No retries unless a case asks for them, so every failure ends at once.
durable::retry_options retries(int n) {
  return {.max_attempts = n};
}

/// A task defined at the JSON level, so that it can return any bytes.
durable::task_definition raw_task(std::string id,
                                  durable::task_definition::run_fn run) {
  durable::task_definition def;
  def.kind = durable::task_kind::task;
  def.options = {.id = std::move(id), .timeout = 10s, .retry = retries(3)};
  def.run = std::move(run);
  return def;
}

/// Waits for `id` to finish (or fails the test after the guard).
durable::execution_record ended(durable::executor& exec,
                                const std::string& id) {
  auto r = exec.wait(id, guard);
  REQUIRE(r.has_value());
  return std::move(*r);
}

} // namespace

TEST_SUITE("integration.utf8") {
  // -- error messages -------------------------------------------------------

  TEST_CASE("a body throwing a message with byte 0xFF fails with U+FFFD in "
            "the stored error") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<int, int>(
      {.id = "bad_message", .timeout = 5s},
      [](durable::task_context&, int x) -> int {
        if (x == 1)
          throw std::runtime_error("cannot open caf\xFF.txt");
        if (x == 2)
          throw durable::error::non_retryable(std::string{"nul\0here", 8});
        throw std::runtime_error("cut \xE2\x82");
      });
    struct expectation {
      int input;
      std::string message;
    };
    for (const auto& [input, message] :
         {expectation{1, "cannot open caf" + fffd + ".txt"},
          expectation{2, "nul" + fffd + "here"},
          expectation{3, "cut " + fffd}}) {
      int case_input = input; // clang 14 cannot capture a structured binding
      CAPTURE(case_input);
      auto r = finish(exec.enqueue(t, input));
      CHECK(st(r.status()) == "failed");
      REQUIRE(r.error().has_value());
      CHECK(r.error()->message == message);
      // As stored, not only as the waiter saw it.
      auto again = exec.get(r.execution.id);
      REQUIRE(again.error.has_value());
      CHECK(again.error->message == message);
    }
  }

  TEST_CASE("a retried body keeps its 0xFF message as U+FFFD between "
            "attempts") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto t = exec.task<int, int>(
      {.id = "bad_message_retried", .timeout = 5s, .retry = retries(1)},
      [&](durable::task_context& ctx, int) -> int {
        ++runs;
        throw std::runtime_error("attempt " + std::to_string(ctx.attempt)
                                 + " \xFF");
      });
    auto r = finish(exec.enqueue(t, 0));
    CHECK(runs.load() == 2);
    CHECK(st(r.status()) == "failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "attempt 1 " + fffd);
  }

  // -- outputs ----------------------------------------------------------------

  TEST_CASE("an output that is not valid UTF-8 fails its own execution "
            "and is never retried") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> raw_runs{0};
    exec.add(raw_task("raw_bad_output", [&](durable::task_context&,
                                            const std::string& in) {
      ++raw_runs;
      return in == "1" ? std::string{"\"ok\""} : std::string{"\"x\xFF\""};
    }));
    std::atomic<int> typed_runs{0};
    auto typed = exec.task<int, std::string>(
      {.id = "typed_bad_output", .timeout = 5s, .retry = retries(3)},
      [&](durable::task_context&, int) {
        ++typed_runs;
        return std::string{"x\xFE"};
      });

    SUBCASE("a raw output") {
      auto ids = exec.enqueue_raw("raw_bad_output", {"1", "2"});
      auto good = ended(exec, ids[0]);
      auto bad = ended(exec, ids[1]);
      CHECK(st(good.status) == "completed");
      CHECK(good.output == "\"ok\"");
      CHECK(st(bad.status) == "failed");
      CHECK(bad.attempt == 0);
      CHECK_FALSE(bad.output.has_value());
      REQUIRE(bad.error.has_value());
      CHECK_FALSE(bad.error->retryable);
      CHECK(bad.error->message == "Output is not valid UTF-8 [offset=2]");
      CHECK(raw_runs.load() == 2);
    }
    SUBCASE("a typed output") {
      auto r = finish(exec.enqueue(typed, 1));
      CHECK(st(r.status()) == "failed");
      CHECK(r.execution.attempt == 0);
      REQUIRE(r.error().has_value());
      CHECK_FALSE(r.error()->retryable);
      CHECK(r.error()->message.find("UTF-8") != std::string::npos);
      CHECK(typed_runs.load() == 1);
    }
  }

  // -- inputs -----------------------------------------------------------------

  TEST_CASE("an input that is not valid UTF-8 is refused at enqueue") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto t = exec.task<std::string, std::string>(
      {.id = "echo", .timeout = 5s},
      [](durable::task_context&, const std::string& s) { return s; });

    SUBCASE("a raw input") {
      auto e = error_of([&] { exec.enqueue_raw("echo", {"\"a\xFF\""}); });
      REQUIRE(e.has_value());
      CHECK_FALSE(e->is_retryable());
      CHECK(std::string{e->what()}
            == "Input of task echo is not valid UTF-8 [offset=2]");
    }
    SUBCASE("a raw input with a NUL byte") {
      auto e = error_of([&] {
        exec.enqueue_raw("echo", {std::string{"\"a\0\"", 4}});
      });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Input of task echo contains a NUL byte [offset=2]");
    }
    SUBCASE("one bad input of many refuses the call") {
      auto e = error_of([&] {
        exec.enqueue_raw("echo", {"\"a\"", "\"\xC0\x80\"", "\"c\""});
      });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Input 1 of task echo is not valid UTF-8 [offset=1]");
    }
    SUBCASE("an asynchronous enqueue") {
      auto e = error_of(
        [&] { exec.enqueue_raw_async("echo", {"\"\xED\xA0\x80\""}).get(); });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Input of task echo is not valid UTF-8 [offset=1]");
    }
    SUBCASE("a typed input") {
      auto e = error_of([&] { exec.enqueue(t, std::string{"\xFF"}); });
      REQUIRE(e.has_value());
      CHECK_FALSE(e->is_retryable());
      CHECK(std::string{e->what()}.find("UTF-8") != std::string::npos);
    }
    SUBCASE("an idempotency key") {
      auto e = error_of([&] {
        exec.enqueue(t, std::string{"a"}, {.idempotency_key = "key\xFF"});
      });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Idempotency key is not valid UTF-8 [offset=3]");
    }
    // Whatever was refused, the executor and its store go on.
    auto r = finish(exec.enqueue(t, std::string{"caf\xC3\xA9"}));
    CHECK(r.output == "caf\xC3\xA9");
  }

  TEST_CASE("a refused input does not fail other callers' enqueues") {
    durable::executor exec{durable::test::make_store(), fast()};
    exec.task<int, int>({.id = "square_it", .timeout = 5s},
                        [](durable::task_context&, int x) { return x * x; });
    std::vector<std::future<std::vector<std::string>>> good;
    std::optional<durable::error> refused;
    for (int i = 0; i < 10; ++i) {
      good.push_back(exec.enqueue_raw_async("square_it", {std::to_string(i)}));
      if (i == 5)
        refused = error_of(
          [&] { exec.enqueue_raw_async("square_it", {"\"\xFF\""}).get(); });
    }
    CHECK(refused.has_value());
    for (auto& f : good) {
      std::vector<std::string> ids;
      CHECK_NOTHROW(ids = f.get());
      REQUIRE(ids.size() == 1);
      CHECK(st(ended(exec, ids[0]).status) == "completed");
    }
  }

  TEST_CASE("a parent asking for a child with an invalid input fails and "
            "is never retried") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> leaf_runs{0};
    auto leaf = exec.task<std::string, int>(
      {.id = "leaf", .timeout = 5s},
      [&](durable::task_context&, const std::string&) { return ++leaf_runs; });
    std::atomic<int> parent_runs{0};

    SUBCASE("a raw child input") {
      durable::task_definition def;
      def.kind = durable::task_kind::parent;
      def.options = {.id = "raw_parent", .timeout = 5s, .retry = retries(3)};
      def.run_parent = [&](durable::task_context&, const std::string&) {
        ++parent_runs;
        return durable::parent_run{
          "null", {{"leaf", "\"ok\"", {}}, {"leaf", "\"b\xFF\"", {}}}};
      };
      exec.add(std::move(def));
      auto ids = exec.enqueue_raw("raw_parent", {"null"});
      auto r = ended(exec, ids[0]);
      CHECK(st(r.status) == "failed");
      CHECK(r.attempt == 0);
      REQUIRE(r.error.has_value());
      CHECK_FALSE(r.error->retryable);
      CHECK(r.error->message
            == "Input of child task leaf is not valid UTF-8 [offset=2]");
      CHECK(r.children.empty());
    }
    SUBCASE("a typed child input") {
      auto parent = exec.parent_task<int, int>(
        {.id = "typed_parent", .timeout = 5s, .retry = retries(3)},
        [&](durable::task_context&, int) {
          ++parent_runs;
          durable::parent_output<int> out;
          out.children.add(leaf, std::string{"ok"});
          out.children.add(leaf, std::string{"b\xFF"});
          return out;
        });
      auto r = finish(exec.enqueue(parent, 0));
      CHECK(st(r.status()) == "failed");
      CHECK(r.execution.attempt == 0);
      REQUIRE(r.error().has_value());
      CHECK_FALSE(r.error()->retryable);
      CHECK(r.error()->message.find("UTF-8") != std::string::npos);
    }
    CHECK(parent_runs.load() == 1);
    CHECK(leaf_runs.load() == 0);
  }

  // -- sleeping tasks ---------------------------------------------------------

  TEST_CASE("sleeping ids and wake outputs and errors follow the rule") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto s = exec.sleeping_task<std::string>({.id = "nap", .timeout = 60s});

    SUBCASE("a sleeping id with a NUL is refused at enqueue") {
      auto e = error_of([&] { exec.enqueue_raw("nap", {R"("a\u0000b")"}); });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Sleeping task unique id contains a NUL byte [offset=1]");
    }
    SUBCASE("a wake-up with an invalid output is refused, then one with an "
            "invalid error message stores U+FFFD") {
      auto h = exec.enqueue(s, std::string{"nap_1"});
      auto e = error_of(
        [&] { exec.wake_raw("nap", "nap_1", std::string{"\"\xFF\""}, ""); });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()} == "Output is not valid UTF-8 [offset=1]");
      CHECK(st(exec.get(h.execution_id()).status) == "running");
      auto woken = exec.wake(s, "nap_1", durable::failed("no \xFF way"));
      CHECK(st(woken.status) == "failed");
      REQUIRE(woken.error.has_value());
      CHECK(woken.error->message == "no " + fffd + " way");
    }
    SUBCASE("a wake-up naming an invalid sleeping id is refused") {
      auto e = error_of(
        [&] { exec.wake(s, "nap\xFF", durable::completed(std::string{"x"})); });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}
            == "Sleeping task unique id is not valid UTF-8 [offset=3]");
    }
  }

  // -- batch-mates ------------------------------------------------------------

  TEST_CASE("one bad message and one bad output among twenty executions "
            "ending together: the other eighteen complete") {
    constexpr int n = 20;
    auto opts = fast();
    opts.worker_threads = n;
    durable::executor exec{durable::test::make_store(), opts};
    // Every body waits for all to have started, so that they end at once
    // and their transitions share the storage actor's batches.
    std::atomic<int> started{0};
    exec.add(raw_task("batch_mate", [&](durable::task_context&,
                                        const std::string& in) {
      ++started;
      auto until = std::chrono::steady_clock::now() + 10s;
      while (started.load() < n && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(1ms);
      auto x = std::stoi(in);
      if (x == 7)
        throw std::runtime_error("strerror: \xFF\xFE");
      if (x == 13)
        return std::string{"\"\xC3\""};
      return std::to_string(x * x);
    }));
    std::vector<std::string> inputs;
    for (int i = 0; i < n; ++i)
      inputs.push_back(std::to_string(i));
    auto ids = exec.enqueue_raw("batch_mate", inputs);
    REQUIRE(ids.size() == n);
    for (int i = 0; i < n; ++i) {
      CAPTURE(i);
      auto r = ended(exec, ids[static_cast<std::size_t>(i)]);
      // Nothing was left to lease expiry and recovered.
      CHECK(r.recoveries == 0);
      if (i == 7) {
        CHECK(st(r.status) == "failed");
        REQUIRE(r.error.has_value());
        CHECK(r.error->message == "strerror: " + fffd + fffd);
        CHECK(r.attempt == 3); // an ordinary exception: retried
      } else if (i == 13) {
        CHECK(st(r.status) == "failed");
        CHECK(r.attempt == 0);
        REQUIRE(r.error.has_value());
        CHECK(r.error->message == "Output is not valid UTF-8 [offset=1]");
      } else {
        CHECK(st(r.status) == "completed");
        CHECK(r.attempt == 0);
        CHECK(r.output == std::to_string(i * i));
      }
    }
  }

} // TEST_SUITE
