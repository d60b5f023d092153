#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::eventually;
using engine_test::test_options;

namespace {

/// Bodies that block until released, counting how many run at once.
struct gate {
  std::atomic<int> inside{0};
  std::atomic<int> peak{0};
  std::atomic<int> started{0};
  std::atomic<int> released{0};

  durable::task_ref<int, int> define(durable::executor& exec,
                                     const std::string& id = "gated") {
    return exec.task<int, int>(
      {.id = id, .timeout = 60s}, [this](durable::task_context& ctx, int x) {
        enter();
        ++started;
        // Wait for a ticket of our own.
        while (!ctx.stop_requested()) {
          int r = released.load();
          if (r > 0 && released.compare_exchange_weak(r, r - 1))
            break;
          std::this_thread::sleep_for(1ms);
        }
        --inside;
        return x;
      });
  }

  void enter() {
    int now = ++inside;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
  }

  void release(int n = 1) {
    released += n;
  }
};

/// Bodies that work for `work` and count how many run at once.
struct busy {
  std::atomic<int> inside{0};
  std::atomic<int> peak{0};
  std::atomic<int> runs{0};

  durable::task_ref<int, int> define(durable::executor& exec,
                                     durable::millis work) {
    return exec.task<int, int>(
      {.id = "busy", .timeout = 30s},
      [this, work](durable::task_context&, int x) {
        int now = ++inside;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        ++runs;
        std::this_thread::sleep_for(work);
        --inside;
        return x;
      });
  }
};

} // namespace

TEST_SUITE("integration.backpressure") {
  TEST_CASE("at most max_concurrent bodies run and all queued ones complete") {
    auto opts = test_options();
    opts.max_concurrent = 3;
    durable::executor exec{durable::test::make_store(), opts};
    gate g;
    auto task = g.define(exec);
    auto hs = exec.enqueue_many(task, {0, 1, 2, 3, 4});
    REQUIRE(eventually([&] { return g.started.load() == 3; }));
    // A few polls later still only three run.
    std::this_thread::sleep_for(300ms);
    CHECK(g.started == 3);
    CHECK(exec.running_count() == 3);
    int ready = 0;
    for (auto& h : hs)
      if (h.get().status == execution_status::ready)
        ++ready;
    CHECK(ready == 2);
    g.release(5);
    for (std::size_t i = 0; i < hs.size(); ++i)
      CHECK(await(hs[i]).output == static_cast<int>(i));
    CHECK(g.peak <= 3);
    CHECK(g.started == 5);
  }

  TEST_CASE("running_count never exceeds the limit while work drains") {
    auto opts = test_options();
    opts.max_concurrent = 3;
    durable::executor exec{durable::test::make_store(), opts};
    busy b;
    auto task = b.define(exec, 20ms);
    std::vector<int> inputs(30);
    for (int i = 0; i < 30; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto hs = exec.enqueue_many(task, inputs);
    std::size_t max_seen = 0;
    std::atomic<bool> stop{false};
    std::thread sampler([&] {
      while (!stop) {
        max_seen = std::max(max_seen, exec.running_count());
        std::this_thread::sleep_for(2ms);
      }
    });
    for (auto& h : hs)
      CHECK(await(h).ok());
    stop = true;
    sampler.join();
    CHECK(max_seen <= 3);
    CHECK(max_seen >= 1);
    CHECK(b.peak <= 3);
    CHECK(b.runs == 30);
  }

  TEST_CASE("a freed slot lets the next queued execution start") {
    auto opts = test_options();
    opts.max_concurrent = 2;
    durable::executor exec{durable::test::make_store(), opts};
    gate g;
    auto task = g.define(exec);
    auto hs = exec.enqueue_many(task, {0, 1, 2, 3});
    REQUIRE(eventually([&] { return g.started.load() == 2; }));
    g.release(1);
    REQUIRE(eventually([&] { return g.started.load() == 3; }));
    CHECK(g.peak <= 2);
    g.release(1);
    REQUIRE(eventually([&] { return g.started.load() == 4; }));
    g.release(2);
    for (auto& h : hs)
      CHECK(await(h).ok());
    CHECK(g.peak <= 2);
  }

  TEST_CASE("the running count goes down as tasks finish") {
    auto opts = test_options();
    opts.max_concurrent = 10;
    durable::executor exec{durable::test::make_store(), opts};
    gate g;
    auto task = g.define(exec);
    auto hs = exec.enqueue_many(task, {0, 1, 2});
    REQUIRE(eventually([&] { return exec.running_count() == 3; }));
    g.release(2);
    REQUIRE(eventually([&] { return exec.running_count() == 1; }));
    g.release(1);
    REQUIRE(eventually([&] { return exec.running_count() == 0; }));
    for (auto& h : hs)
      CHECK(await(h).ok());
  }

  TEST_CASE("claims never ask for more than claim_batch_size rows") {
    auto db = std::make_shared<engine_test::recording_store>();
    auto opts = test_options();
    opts.claim_batch_size = 2;
    opts.claim_on_insert = false; // every row goes through a claim
    durable::executor exec{db, opts};
    busy b;
    auto task = b.define(exec, 1ms);
    std::vector<int> inputs(25);
    for (int i = 0; i < 25; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto hs = exec.enqueue_many(task, inputs);
    for (auto& h : hs)
      CHECK(await(h).ok());
    auto claims = db->claims();
    REQUIRE_FALSE(claims.empty());
    std::size_t total = 0;
    for (const auto& c : claims) {
      CHECK(c.limit <= 2);
      CHECK(c.claimed <= c.limit);
      total += c.claimed;
    }
    CHECK(total == 25);
    CHECK(b.runs == 25);
  }

  TEST_CASE("a claim asks for no more rows than there are free slots") {
    auto db = std::make_shared<engine_test::recording_store>();
    auto opts = test_options();
    opts.max_concurrent = 5;
    opts.claim_batch_size = 3;
    opts.claim_on_insert = false; // every row goes through a claim
    durable::executor exec{db, opts};
    gate g;
    auto task = g.define(exec);
    std::vector<int> inputs{0, 1, 2, 3, 4, 5, 6, 7};
    auto hs = exec.enqueue_many(task, inputs);
    REQUIRE(eventually([&] { return g.started.load() == 5; }));
    std::this_thread::sleep_for(200ms);
    CHECK(exec.running_count() == 5);
    CHECK(g.started == 5);
    // Eight rows were ready, but the claims took only what the slots allowed.
    std::size_t claimed = 0;
    for (const auto& c : db->claims()) {
      CHECK(c.limit >= 1);
      CHECK(c.limit <= 3);
      claimed += c.claimed;
    }
    CHECK(claimed == 5);
    g.release(8);
    for (auto& h : hs)
      CHECK(await(h).ok());
    CHECK(g.peak <= 5);
  }

  TEST_CASE("a claim_batch_size of one still drains a large queue") {
    auto opts = test_options();
    opts.claim_batch_size = 1;
    durable::executor exec{durable::test::make_store(), opts};
    busy b;
    auto task = b.define(exec, 0ms);
    std::vector<int> inputs(100);
    for (int i = 0; i < 100; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto hs = exec.enqueue_many(task, inputs);
    for (std::size_t i = 0; i < hs.size(); ++i)
      CHECK(await(hs[i]).output == static_cast<int>(i));
    CHECK(b.runs == 100);
  }

  TEST_CASE("a waiting parent takes no slot so children run at limit one") {
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{durable::test::make_store(), opts};
    busy b;
    auto child = b.define(exec, 1ms);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [child](durable::task_context&, int n) {
        durable::parent_output<std::string> out;
        for (int i = 0; i < n; ++i)
          out.children.add(child, i);
        return out;
      });
    std::vector<durable::handle<durable::parent_result<std::string>>> hs;
    for (int i = 0; i < 3; ++i)
      hs.push_back(exec.enqueue(parent, 4));
    for (auto& h : hs) {
      auto r = await(h);
      REQUIRE(r.ok());
      CHECK(r.output->children.size() == 4);
    }
    CHECK(b.peak == 1);
    CHECK(b.runs == 12);
  }

  TEST_CASE("a recursive tree completes with a single slot") {
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{durable::test::make_store(), opts};
    std::atomic<int> runs{0};
    durable::task_ref<int, int> self_ref{"tree"};
    auto tree = exec.parent_task<int, int>(
      {.id = "tree", .timeout = 5s},
      [&, self_ref](durable::task_context&, int depth) {
        ++runs;
        durable::parent_output<int> out{.output = 1};
        if (depth > 0) {
          out.children.add(self_ref, depth - 1);
          out.children.add(self_ref, depth - 1);
        }
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        int n = in.output;
        for (const auto& c : in.children)
          n += c.output().value_or(0);
        return n;
      }));
    auto r = await(exec.enqueue(tree, 3));
    REQUIRE(r.ok());
    CHECK(r.output == 15);
    CHECK(runs == 15);
  }

  TEST_CASE("sleeping executions take no slot") {
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{durable::test::make_store(), opts};
    auto sleeper = exec.sleeping_task<int>({.id = "sleeper", .timeout = 60s});
    busy b;
    auto task = b.define(exec, 1ms);
    std::vector<durable::handle<int>> sleepers;
    for (int i = 0; i < 3; ++i)
      sleepers.push_back(exec.enqueue(sleeper, "s" + std::to_string(i)));
    auto r = await(exec.enqueue(task, 7));
    CHECK(r.output == 7);
    // The slot is given back once the actor has seen its write stored,
    // which may come just after the waiter got the row.
    CHECK(eventually([&] { return exec.running_count() == 0; }));
    for (int i = 0; i < 3; ++i)
      exec.wake(sleeper, "s" + std::to_string(i), durable::completed(i));
    for (auto& s : sleepers)
      CHECK(await(s).ok());
  }

  TEST_CASE("a body past its deadline keeps its slot until it returns") {
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{durable::test::make_store(), opts};
    std::atomic<bool> let_go{false};
    std::atomic<bool> stubborn_returned{false};
    auto stubborn = exec.task<int, int>(
      {.id = "stubborn", .timeout = 50ms}, [&](durable::task_context&, int x) {
        // Ignores its cancel token: only the test lets it go.
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!let_go && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(2ms);
        stubborn_returned = true;
        return x;
      });
    std::atomic<int> next_runs{0};
    auto next = exec.task<int, int>({.id = "next", .timeout = 5s},
                                    [&](durable::task_context&, int x) {
                                      ++next_runs;
                                      return x;
                                    });
    auto h1 = exec.enqueue(stubborn, 1);
    auto r1 = await(h1);
    CHECK(r1.status() == execution_status::timed_out);
    auto h2 = exec.enqueue(next, 2);
    std::this_thread::sleep_for(300ms);
    CHECK(next_runs == 0);
    CHECK(h2.get().status == execution_status::ready);
    CHECK(exec.running_count() == 1);
    let_go = true;
    CHECK(await(h2).output == 2);
    CHECK(stubborn_returned);
    // The late result was discarded.
    CHECK(h1.get().status == execution_status::timed_out);
  }

  TEST_CASE("each executor sharing a store keeps its own limit") {
    auto db = durable::test::make_store();
    auto opts = test_options();
    opts.max_concurrent = 2;
    durable::executor a{db, opts};
    durable::executor b{db, opts};
    gate g;
    auto task = g.define(a);
    g.define(b);
    auto hs = a.enqueue_many(task, {0, 1, 2, 3, 4, 5});
    REQUIRE(eventually([&] { return g.started.load() == 4; }));
    std::this_thread::sleep_for(200ms);
    CHECK(g.started == 4);
    CHECK(a.running_count() == 2);
    CHECK(b.running_count() == 2);
    g.release(6);
    for (auto& h : hs)
      CHECK(await(h).ok());
    CHECK(g.peak <= 4);
  }

  TEST_CASE("a burst far above the limit completes without exceeding it") {
    auto opts = test_options();
    opts.max_concurrent = 4;
    opts.claim_batch_size = 3;
    durable::executor exec{durable::test::make_store(), opts};
    busy b;
    auto task = b.define(exec, 0ms);
    std::vector<int> inputs(300);
    for (int i = 0; i < 300; ++i)
      inputs[static_cast<std::size_t>(i)] = i;
    auto hs = exec.enqueue_many(task, inputs);
    for (std::size_t i = 0; i < hs.size(); ++i)
      CHECK(await(hs[i]).output == static_cast<int>(i));
    CHECK(b.peak <= 4);
    CHECK(b.runs == 300);
  }
}
