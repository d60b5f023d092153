#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "common.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/held_applies.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using namespace durable::test::common;

/// A task whose body blocks until `release` is set. The flags live on the
/// heap, shared with the body, so that a body still running while the test
/// ends never touches freed memory; the destructor releases it.
struct gated {
  struct flags {
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
  };

  std::shared_ptr<flags> f = std::make_shared<flags>();
  std::atomic<bool>& started = f->started;
  std::atomic<bool>& release = f->release;
  durable::task_ref<int, int> ref;

  gated(durable::executor& exec, const std::string& id) {
    ref = exec.task<int, int>({.id = id, .timeout = 60s},
                              [f = f](durable::task_context&, int x) {
                                f->started = true;
                                block_until(f->release);
                                return x + 1;
                              });
  }

  gated(const gated&) = delete;
  gated& operator=(const gated&) = delete;

  ~gated() {
    release = true;
  }
};

} // namespace

TEST_SUITE("integration.handle") {
  TEST_CASE("enqueueing an unknown task is refused with Task not found") {
    auto db = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{db, fast()};
    durable::task_ref<int, int> unknown{"unknown_task"};
    auto e = error_of([&] { exec.enqueue(unknown, 1); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()} == "Task not found [taskId=unknown_task]");
    CHECK(e->kind() == durable::error_kind::not_found);
    CHECK_FALSE(e->is_retryable());
    CHECK(db->size() == 0);
  }

  TEST_CASE(
    "a handle for an unregistered task is refused with Task not found") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "known_task"};
    auto h = exec.enqueue(g.ref, 1);
    durable::task_ref<int, int> unknown{"unknown_task"};
    auto e = error_of([&] { exec.get_handle(unknown, h.execution_id()); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()} == "Task not found [taskId=unknown_task]");
    CHECK(e->kind() == durable::error_kind::not_found);
    g.release = true;
  }

  TEST_CASE("a handle rebuilt from a correct id sees the running execution") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "rebuild"};
    auto h = exec.enqueue(g.ref, 1);
    REQUIRE(eventually([&] { return g.started.load(); }));
    auto h2 = exec.get_handle(g.ref, h.execution_id());
    CHECK(h2.task_id() == "rebuild");
    CHECK(h2.execution_id() == h.execution_id());
    auto row = h2.get();
    CHECK(st(row.status) == "running");
    CHECK(row.owner == exec.incarnation());
    CHECK(row.started_at.has_value());
    CHECK(row.expires_at.has_value());
    CHECK(row.input == "1");
    g.release = true;
    auto r = finish(h2);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 2);
  }

  TEST_CASE("a handle for an unknown execution id is refused as not found") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "some_task"};
    auto e = error_of([&] { exec.get_handle(g.ref, "te_doesnotexist"); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}
          == "Task execution not found [executionId=te_doesnotexist]");
    CHECK(e->kind() == durable::error_kind::not_found);
  }

  TEST_CASE("a handle for an execution of another task is refused") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated a{exec, "task_a"};
    gated b{exec, "task_b"};
    auto h = exec.enqueue(a.ref, 1);
    auto e = error_of([&] { exec.get_handle(b.ref, h.execution_id()); });
    REQUIRE(e.has_value());
    CHECK(std::string{e->what()}.find("belongs to another task")
          != std::string::npos);
    CHECK(e->kind() == durable::error_kind::not_found);
    a.release = true;
  }

  TEST_CASE("enqueue returns before the execution finishes") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "no_wait"};
    auto h = exec.enqueue(g.ref, 41);
    CHECK(h.task_id() == "no_wait");
    CHECK(h.execution_id().rfind("te_", 0) == 0);
    CHECK(h.execution_id().size() == 27);
    auto status = st(h.get().status);
    CHECK((status == "ready" || status == "running"));
    g.release = true;
    CHECK(finish(h).output == 42);
  }

  TEST_CASE("waiting with no time left returns nothing for an unfinished "
            "execution") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "zero_wait"};
    auto h = exec.enqueue(g.ref, 1);
    CHECK_FALSE(h.wait_for(0ms).has_value());
    REQUIRE(eventually([&] { return g.started.load(); }));
    CHECK_FALSE(h.wait_for(0ms).has_value());
    g.release = true;
    CHECK(st(finish(h).status()) == "completed");
  }

  TEST_CASE("a wait that runs out mid run returns nothing and the execution "
            "goes on") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "mid_wait"};
    auto h = exec.enqueue(g.ref, 1);
    REQUIRE(eventually([&] { return g.started.load(); }));
    CHECK_FALSE(h.wait_for(50ms).has_value());
    CHECK(st(h.get().status) == "running");
    g.release = true;
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 2);
  }

  TEST_CASE("a timed wait gives up on time while a commit hangs") {
    // The engine's store calls queue behind a commit that takes long (a
    // slow disk, a lock, a large batch); a wait_for() must still return
    // when its time is up, not when the commit ends.
    auto db = std::make_shared<durable::test::held_applies>(
      durable::test::make_store());
    durable::executor exec{db, fast()};
    gated g{exec, "held_commit"};
    auto h = exec.enqueue(g.ref, 1);
    REQUIRE(eventually([&] { return g.started.load(); }));
    db->hold();
    g.release = true; // its end is the commit that hangs
    REQUIRE(eventually([&] { return db->held() == 1; }));
    CHECK_FALSE(h.wait_for(100ms).has_value());
    CHECK(db->held() == 1); // given up while the commit still hung
    db->open();
    CHECK(finish(h).output == 2);
  }

  TEST_CASE("waits that run out leave no waiter behind") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "many_waits"};
    auto h = exec.enqueue(g.ref, 1);
    REQUIRE(eventually([&] { return g.started.load(); }));
    for (int i = 0; i < 20; ++i)
      CHECK_FALSE(h.wait_for(5ms).has_value());
    // Each gave up; the dispatcher drops each waiter at its deadline.
    CHECK(eventually([&] { return exec.waiter_count() == 0; }));
    // An untimed waiter counts until the execution finishes.
    auto waiting = std::async(std::launch::async, [&] { return h.wait(); });
    REQUIRE(eventually([&] { return exec.waiter_count() == 1; }));
    g.release = true;
    CHECK(waiting.get().output == 2);
    CHECK(exec.waiter_count() == 0);
  }

  TEST_CASE("waiting after the finish returns the finished execution") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "wait_after"};
    g.release = true;
    auto h = exec.enqueue(g.ref, 1);
    REQUIRE(eventually([&] { return durable::is_finished(h.get().status); }));
    auto r = h.wait_for(0ms);
    REQUIRE(r.has_value());
    CHECK(st(r->status()) == "completed");
    CHECK(r->output == 2);
    CHECK(h.wait().output == 2);
  }

  TEST_CASE("every waiter on one execution is woken by its end") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "many_waiters"};
    auto h = exec.enqueue(g.ref, 1);
    std::atomic<int> woken{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i)
      waiters.emplace_back([&] {
        auto r = h.wait_for(guard);
        if (r && r->output == 2)
          ++woken;
      });
    std::this_thread::sleep_for(20ms);
    g.release = true;
    for (auto& w : waiters)
      w.join();
    CHECK(woken == 4);
  }

  TEST_CASE("a handle whose execution is gone throws not found") {
    auto db = durable::test::make_store();
    durable::executor exec{db, fast()};
    gated g{exec, "erased"};
    g.release = true;
    auto h = exec.enqueue(g.ref, 1);
    finish(h);
    REQUIRE(db->erase(h.execution_id()));
    auto e = error_of([&] { h.get(); });
    REQUIRE(e.has_value());
    CHECK(e->kind() == durable::error_kind::not_found);
    CHECK(std::string{e->what()}.find(h.execution_id()) != std::string::npos);
    auto w = error_of([&] { h.wait_for(1s); });
    REQUIRE(w.has_value());
    CHECK(w->kind() == durable::error_kind::not_found);
  }

  TEST_CASE("a handle still reads its execution after shutdown") {
    durable::executor exec{durable::test::make_store(), fast()};
    gated g{exec, "after_shutdown"};
    g.release = true;
    auto h = exec.enqueue(g.ref, 1);
    finish(h);
    exec.shutdown();
    auto row = h.get();
    CHECK(st(row.status) == "completed");
    CHECK(row.output == "2");
  }

  TEST_CASE("sleeping unique ids that are not strings are refused") {
    auto db = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{db, fast()};
    auto s = exec.sleeping_task<int>({.id = "needs_id", .timeout = 60s});
    for (std::string bad : {"null", "5", "true", "{}", "[\"a\"]"}) {
      CAPTURE(bad);
      auto e = error_of([&] { exec.enqueue_raw(s.id(), {bad}); });
      REQUIRE(e.has_value());
      CHECK(std::string{e->what()}.find("Invalid sleeping task unique id")
            != std::string::npos);
      CHECK_FALSE(e->is_retryable());
    }
    CHECK(db->size() == 0);
  }

  TEST_CASE("empty or over long sleeping unique ids are refused") {
    auto db = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{db, fast()};
    auto s = exec.sleeping_task<int>({.id = "needs_id_2", .timeout = 60s});
    CHECK_THROWS_WITH_AS(exec.enqueue(s, std::string{}),
                         doctest::Contains("Invalid sleeping task unique id"),
                         durable::error);
    CHECK_THROWS_WITH_AS(exec.enqueue(s, std::string(300, 'a')),
                         doctest::Contains("Invalid sleeping task unique id"),
                         durable::error);
    CHECK(db->size() == 0);
    auto h = exec.enqueue(s, std::string(255, 'b'));
    CHECK(h.get().sleeping_id == std::string(255, 'b'));
    CHECK(db->size() == 1);
  }

} // TEST_SUITE
