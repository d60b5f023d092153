#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"
#include "support/faulty_store.hpp"

// When a blocking body starts: its timeout counts from its start, not from
// its claim; a body whose execution ended, whose node drains, or whose
// lease may have passed while it waited on the worker pool never starts.

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::test_options;

namespace {

/// One worker thread, and claimed blocking bodies may wait for it: a
/// second blocking body waits behind the first.
durable::executor_options one_worker() {
  auto o = test_options();
  o.worker_threads = 1;
  o.max_queued_blocking = 16;
  return o;
}

/// A blocking task whose body holds its worker until `release` is set.
durable::task_ref<int, int> holder(durable::executor& exec,
                                   std::atomic<bool>& started,
                                   std::atomic<bool>& release) {
  return exec.task<int, int>({.id = "holder", .timeout = 20s},
                             [&](durable::task_context& ctx, int x) {
                               started = true;
                               engine_test::block_until(release, ctx);
                               return x;
                             });
}

/// A quick blocking task that counts its runs.
durable::task_ref<int, int> quick(durable::executor& exec,
                                  std::atomic<int>& runs,
                                  durable::millis timeout = 5000ms) {
  return exec.task<int, int>({.id = "quick", .timeout = timeout},
                             [&runs](durable::task_context&, int x) {
                               ++runs;
                               return x + 1;
                             });
}

/// Options whose lease runs out soon once renewals fail.
durable::executor_options short_leases(durable::millis lease) {
  auto o = test_options();
  o.lease_duration = lease;
  o.lease_renew_interval = 100ms;
  return o;
}

/// Bodies running at once, and the most seen at any moment.
struct concurrency_probe {
  std::atomic<int> running{0};
  std::atomic<int> most{0};

  void enter() {
    const int now = ++running;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);)
      ;
  }

  void leave() {
    --running;
  }
};

} // namespace

TEST_SUITE("integration.body_start") {
  TEST_CASE("a body queued behind a busy worker pool gets its whole timeout") {
    durable::executor exec{durable::test::make_store(), one_worker()};
    std::atomic<bool> started{false}, release{false};
    std::atomic<int> runs{0};
    auto hold = holder(exec, started, release);
    auto task = quick(exec, runs, 1000ms);
    auto first = exec.enqueue(hold, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    auto h = exec.enqueue(task, 1);
    // Queued for longer than its own timeout.
    std::this_thread::sleep_for(1500ms);
    release = true;
    auto r = await(h);
    CHECK(r.ok());
    CHECK(r.execution.attempt == 0);
    CHECK_FALSE(r.execution.error.has_value());
    CHECK(runs.load() == 1);
    CHECK(await(first).ok());
  }

  TEST_CASE("a body whose execution was cancelled while queued never starts") {
    durable::executor exec{durable::test::make_store(), one_worker()};
    std::atomic<bool> started{false}, release{false};
    std::atomic<int> runs{0};
    auto hold = holder(exec, started, release);
    auto task = quick(exec, runs);
    auto first = exec.enqueue(hold, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    auto h = exec.enqueue(task, 1);
    REQUIRE(
      engine_test::reaches(exec, h.execution_id(), execution_status::running));
    h.cancel();
    CHECK(await(h).status() == execution_status::cancelled);
    release = true;
    CHECK(await(first).ok());
    // The queued job has been taken off the queue by now (one worker, in
    // order, and the holder's outcome is stored after its body returned).
    std::this_thread::sleep_for(200ms);
    CHECK(runs.load() == 0);
  }

  TEST_CASE("a draining node starts no queued body and hands it back") {
    auto db = durable::test::make_store();
    std::atomic<int> runs{0};
    std::string id;
    {
      auto opts = one_worker();
      opts.shutdown_grace = 5000ms;
      durable::executor exec{db, opts};
      std::atomic<bool> started{false};
      auto hold = exec.task<int, int>(
        {.id = "holder", .timeout = 20s},
        [&](durable::task_context& ctx, int x) {
          started = true;
          // Returns when the node shuts down, as a body should.
          auto deadline = std::chrono::steady_clock::now() + 20s;
          while (!ctx.shutdown_token.stop_requested()
                 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(2ms);
          return x;
        });
      auto task = quick(exec, runs);
      exec.enqueue(hold, 1);
      REQUIRE(engine_test::eventually([&] { return started.load(); }));
      id = exec.enqueue(task, 1).execution_id();
      REQUIRE(engine_test::reaches(exec, id, execution_status::running));
      exec.shutdown();
    }
    CHECK(runs.load() == 0);
    auto row = db->get(id);
    REQUIRE(row.has_value());
    CHECK_FALSE(row->is_finished());
    CHECK_FALSE(row->owner.has_value()); // handed back: any node runs it
    // Another node runs it, without a recovery.
    durable::executor next{db, test_options()};
    auto task = quick(next, runs);
    auto r = await(next.get_handle(task, id));
    CHECK(r.ok());
    CHECK(runs.load() == 1);
    CHECK(r.execution.recoveries == 0);
  }

  TEST_CASE("a body does not start once its lease may have passed") {
    // The node cannot renew (its store does not answer renewals), so the
    // lease of a body waiting on the worker pool runs out before a worker
    // is free: another node may own the row by then. The body is not
    // started; the row is handed back and runs on a fresh claim.
    auto db = std::make_shared<durable::test::faulty_store>(
      durable::test::make_store());
    auto opts = one_worker();
    opts.lease_duration = 800ms;
    opts.lease_renew_interval = 100ms;
    durable::executor exec{db, opts};
    std::atomic<bool> started{false}, release{false};
    std::atomic<int> runs{0};
    auto hold = holder(exec, started, release);
    auto task = quick(exec, runs);
    auto first = exec.enqueue(hold, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    db->fail_renewals(true);
    auto h = exec.enqueue(task, 1);
    REQUIRE(
      engine_test::reaches(exec, h.execution_id(), execution_status::running));
    auto claimed = exec.get(h.execution_id());
    std::this_thread::sleep_for(1200ms); // past its lease
    release = true;
    REQUIRE(await(first).ok());
    db->fail_renewals(false);
    auto r = await(h);
    CHECK(r.ok());
    CHECK(runs.load() == 1);
    // It ran on a later claim than the one whose lease passed: handed back
    // or taken over again (by this node, whose take-over claims find its
    // own expired rows), maybe more than once while renewals failed.
    CHECK(r.execution.version > claimed.version + 1);
    CHECK(r.execution.recoveries >= 1);
  }

  TEST_CASE("a finalize task run here does not start once its parent's lease "
            "may have passed") {
    // The parent's lease runs out while its child runs: the node cannot
    // renew, and its claims fail, so nobody takes the parent over yet. The
    // finalize task would run on the parent's actor and be written with the
    // parent's row, so the parent's lease is the one that counts, however
    // fresh the lease of the finalize's own row: another node may own the
    // parent by then and run the finalize as well. It is not started; the
    // parent is handed back and finalized on its next claim.
    auto db = std::make_shared<durable::test::faulty_store>(
      durable::test::make_store());
    auto opts = short_leases(800ms);
    // Before the executor: its bodies may still run while the executor stops.
    std::atomic<bool> child_started{false}, release{false};
    std::atomic<int> fin_runs{0};
    durable::executor exec{db, opts};
    auto child = exec.task<int, int>({.id = "slow_child", .timeout = 20s},
                                     [&](durable::task_context& ctx, int x) {
                                       child_started = true;
                                       engine_test::block_until(release, ctx);
                                       return x;
                                     });
    using fin_input = durable::finalize_input<std::string, int>;
    auto fin = exec.task<fin_input, int>(
      {.id = "fin", .timeout = 10s},
      [&](durable::task_context&, const fin_input& in) {
        ++fin_runs;
        return static_cast<int>(in.children.size());
      });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "fan", .timeout = 10s, .may_block = false},
      [child](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "fanned"};
        out.children.add(child, x);
        return out;
      },
      fin);
    auto h = exec.enqueue(parent, 1);
    REQUIRE(engine_test::eventually([&] { return child_started.load(); }));
    auto kid = exec.get(h.execution_id()).children.at(0).execution_id;
    db->fail_renewals(true);
    db->fail_claims(durable::test::fault::unavailable, 1'000'000);
    std::this_thread::sleep_for(1200ms); // past the parent's lease
    release = true;
    REQUIRE(engine_test::eventually(
      [&] { return exec.get(kid).status == execution_status::completed; }));
    // Room for the parent to hear of it and for a finalize to start.
    std::this_thread::sleep_for(300ms);
    CHECK(fin_runs.load() == 0);
    db->fail_claims(durable::test::fault::unavailable, 0);
    db->fail_renewals(false);
    auto r = await(h);
    CHECK(r.ok());
    CHECK(r.output == 1);
    CHECK(fin_runs.load() == 1);
    CHECK(r.execution.recoveries >= 1);
  }

  TEST_CASE("a node holds no more blocking executions than its worker threads "
            "and leaves the rest to a node with free threads") {
    auto db = durable::test::make_store();
    // Before the executors: their bodies read them until they stop.
    std::atomic<bool> release{false};
    concurrency_probe on_a;
    std::atomic<int> runs_b{0}, inline_runs{0};
    auto opts = test_options();
    opts.worker_threads = 2;
    durable::executor a{db, opts};
    auto held_a = a.task<int, int>({.id = "held", .timeout = 20s},
                                   [&](durable::task_context& ctx, int x) {
                                     on_a.enter();
                                     engine_test::block_until(release, ctx);
                                     on_a.leave();
                                     return x;
                                   });
    auto quick_a = a.task<int, int>(
      {.id = "quick", .timeout = 5s, .may_block = false},
      [&](durable::task_context&, int x) {
        ++inline_runs;
        return x + 1;
      });
    constexpr int n = 8;
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(a.enqueue(held_a, i)); // taken on insert, or stored ready
    REQUIRE(engine_test::eventually([&] { return on_a.running.load() == 2; }));
    std::this_thread::sleep_for(300ms); // polls and claims come and go
    int owned = 0, ready = 0;
    for (auto& h : hs) {
      auto row = a.get(h.execution_id());
      owned += row.status == execution_status::running ? 1 : 0;
      ready += row.status == execution_status::ready ? 1 : 0;
    }
    // Two threads: two held, plus at most the room of a claim that
    // overlapped the takes on insert (blocking_capacity.hpp).
    CHECK(owned >= 2);
    CHECK(owned <= 4);
    CHECK(owned + ready == n);
    // Work whose bodies never block is still claimed meanwhile.
    auto q = a.enqueue(quick_a, 41);
    auto qr = await(q);
    CHECK(qr.ok());
    CHECK(qr.output == 42);
    // Another node with free threads runs the three left.
    durable::executor b{db, test_options()};
    b.task<int, int>({.id = "held", .timeout = 20s},
                     [&](durable::task_context&, int x) {
                       ++runs_b;
                       return x;
                     });
    REQUIRE(engine_test::eventually([&] { return runs_b.load() == ready; }));
    release = true;
    for (auto& h : hs)
      CHECK(await(h).ok());
    CHECK(on_a.most.load() == 2);
    CHECK(runs_b.load() == ready);
  }

  TEST_CASE("a row its own node takes over again never runs two bodies at "
            "once") {
    // The node cannot renew, so its own take-over claims the row again
    // while the first body still runs. The second body may start only after
    // the first returned.
    auto db = std::make_shared<durable::test::faulty_store>(
      durable::test::make_store());
    // Before the executor: its bodies may still run while it stops.
    concurrency_probe probe;
    std::atomic<int> runs{0};
    std::atomic<bool> release{false};
    durable::executor exec{db, short_leases(600ms)};
    auto task = exec.task<int, int>(
      {.id = "overlap", .timeout = 20s}, [&](durable::task_context&, int x) {
        ++runs;
        probe.enter();
        auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!release.load() && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(2ms);
        probe.leave();
        return x;
      });
    db->fail_renewals(true);
    auto h = exec.enqueue(task, 7);
    REQUIRE(engine_test::eventually([&] { return runs.load() == 1; }));
    // Taken over again by this node once its lease ran out.
    REQUIRE(engine_test::eventually(
      [&] { return exec.get(h.execution_id()).recoveries >= 1; }));
    std::this_thread::sleep_for(300ms); // room for a second body to start
    db->fail_renewals(false);
    release = true;
    auto r = await(h);
    CHECK(r.ok());
    CHECK(probe.most.load() == 1);
    CHECK(runs.load() == 2);
  }

} // TEST_SUITE
