// Waits end in every mode: when the end of their execution is never
// announced, and when the executor shuts down under them (with a clear
// error, never a hang or a made-up result).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/executor_actor.hpp"
#include "durable/actors/wire_errors.hpp"
#include "durable/durable.hpp"
#include "engine_test_support.hpp"
#include "support/held_applies.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using engine_test::eventually;
using engine_test::test_options;

/// Hang guard of the calls these tests expect to return.
constexpr auto hang_guard = 30s;

/// Runs `f` on a thread of its own and waits up to hang_guard for it. On a
/// hang the process ends at once: the thread still uses objects on the
/// test's stack, so the test cannot unwind past it.
void returns_in_time(const char* what, std::function<void()> f) {
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  std::thread{[f = std::move(f), done] {
    f();
    done->set_value();
  }}.detach();
  if (fut.wait_for(hang_guard) != std::future_status::ready) {
    std::fprintf(stderr, "HANG: %s did not return within %lld s\n", what,
                 static_cast<long long>(hang_guard.count()));
    std::fflush(stderr);
    std::_Exit(3);
  }
}

/// Ends the process if it is not destroyed within hang_guard: a guard for
/// a call that must run on the test's own thread.
class watchdog {
public:
  explicit watchdog(const char* what) {
    thread_ = std::thread{[this, what] {
      std::unique_lock guard{mtx_};
      if (!cv_.wait_for(guard, hang_guard, [this] { return done_; })) {
        std::fprintf(stderr, "HANG: %s did not return within %lld s\n", what,
                     static_cast<long long>(hang_guard.count()));
        std::fflush(stderr);
        std::_Exit(3);
      }
    }};
  }

  ~watchdog() {
    {
      std::lock_guard guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

/// What a thread blocked in a wait got: a result or the error it threw.
struct wait_outcome {
  bool returned = false;
  std::string message;
  std::optional<durable::error_kind> kind;
};

/// Starts `wait` on a thread of its own; the future holds its outcome.
std::future<wait_outcome> wait_on_thread(std::function<void()> wait) {
  auto p = std::make_shared<std::promise<wait_outcome>>();
  auto fut = p->get_future();
  std::thread{[wait = std::move(wait), p] {
    wait_outcome out;
    try {
      wait();
      out.returned = true;
    } catch (const durable::error& e) {
      out.message = e.what();
      out.kind = e.kind();
    } catch (const std::exception& e) {
      out.message = std::string{"unexpected exception: "} + e.what();
    }
    p->set_value(std::move(out));
  }}.detach();
  return fut;
}

/// A sleeping execution nobody wakes: its wait only ends by shutdown.
struct sleeper {
  durable::task_ref<std::string, std::string> ref;
  durable::handle<std::string> h;

  explicit sleeper(durable::executor& exec)
    : ref(exec.sleeping_task<std::string>({.id = "sleeper", .timeout = 600s})),
      h(exec.enqueue(ref, std::string{"never-woken"})) {}
};

std::string shut_down_message(const std::string& id) {
  return "Executor shut down while waiting [executionId=" + id + "]";
}

/// Checks that the thread blocked in a wait got the shutdown error.
void check_shut_down(std::future<wait_outcome>& fut, const std::string& id) {
  REQUIRE(fut.wait_for(hang_guard) == std::future_status::ready);
  auto out = fut.get();
  CHECK_FALSE(out.returned);
  CHECK(out.message == shut_down_message(id));
  CHECK(out.kind == durable::error_kind::generic);
}

} // namespace

TEST_SUITE("integration.wait") {
  TEST_CASE("a wait returns although the end of its execution is never "
            "announced") {
    // The store loses every `finished` announcement (a lost NOTIFY, another
    // process's commit missed without a resync): the dispatcher's re-check
    // of its waiters has to find the end.
    auto db = std::make_shared<engine_test::recording_store>();
    db->drop_finished_events();
    durable::executor exec{db, test_options()};
    auto release = std::make_shared<std::atomic<bool>>(false);
    auto gated = exec.task<int, int>({.id = "gated", .timeout = 60s},
                                     [release](durable::task_context& ctx,
                                               int x) {
                                       engine_test::block_until(*release, ctx);
                                       return x + 1;
                                     });
    auto h = exec.enqueue(gated, 1);
    const auto started = std::chrono::steady_clock::now();
    auto fut = std::async(std::launch::async, [h] { return h.wait_for(30s); });
    REQUIRE(eventually([&] { return exec.waiter_count() == 1; }));
    *release = true;
    REQUIRE(fut.wait_for(40s) == std::future_status::ready);
    auto r = fut.get();
    const auto took = std::chrono::steady_clock::now() - started;
    REQUIRE_MESSAGE(r.has_value(), "the wait gave up after its full 30 s");
    CHECK(r->ok());
    CHECK(r->output == 2);
    // Well before the wait's own 30 s: the re-check found the end.
    CHECK(took < 10s);
    CHECK(eventually([&] { return exec.waiter_count() == 0; }));
  }

  TEST_CASE("shutdown() fails a wait in progress with a clear error") {
    durable::executor exec{durable::test::make_store(), test_options()};
    sleeper s{exec};
    auto fut = wait_on_thread([h = s.h] { h.wait(); });
    REQUIRE(eventually([&] { return exec.waiter_count() == 1; }));
    {
      watchdog guard{"shutdown()"};
      exec.shutdown();
    }
    check_shut_down(fut, s.h.execution_id());
  }

  TEST_CASE("shutdown() fails a timed wait in progress with a clear error") {
    durable::executor exec{durable::test::make_store(), test_options()};
    sleeper s{exec};
    auto fut = wait_on_thread([h = s.h] { (void)h.wait_for(600s); });
    REQUIRE(eventually([&] { return exec.waiter_count() == 1; }));
    {
      watchdog guard{"shutdown()"};
      exec.shutdown();
    }
    check_shut_down(fut, s.h.execution_id());
  }

  TEST_CASE("the executor's destructor fails a wait in progress") {
    auto exec = std::make_unique<durable::executor>(durable::test::make_store(),
                                                    test_options());
    sleeper s{*exec};
    auto fut = wait_on_thread([h = s.h] { h.wait(); });
    REQUIRE(eventually([&] { return exec->waiter_count() == 1; }));
    {
      watchdog guard{"~executor()"};
      exec.reset();
    }
    check_shut_down(fut, s.h.execution_id());
  }

  TEST_CASE("a wait after shutdown returns a finished execution and refuses "
            "an unfinished one") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto inc = exec.task<int, int>({.id = "inc", .timeout = 10s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto done = exec.enqueue(inc, 1);
    REQUIRE(done.wait_for(hang_guard).has_value());
    sleeper s{exec};
    {
      watchdog guard{"shutdown()"};
      exec.shutdown();
    }
    std::optional<durable::finished<int>> r;
    returns_in_time("wait() after shutdown",
                    [&] { r = done.wait_for(hang_guard); });
    REQUIRE(r.has_value());
    CHECK(r->output == 2);
    auto fut = wait_on_thread([h = s.h] { h.wait(); });
    check_shut_down(fut, s.h.execution_id());
  }

  TEST_CASE("a timed wait sent to the executor actor gives up on time "
            "while a commit hangs") {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    caf::actor_system sys{cfg};
    auto db = std::make_shared<durable::test::held_applies>(
      durable::test::make_store());
    durable::executor exec{sys, db, test_options()};
    auto echo = exec.task<int, int>(
      {.id = "echo", .timeout = 10s, .may_block = false},
      [](durable::task_context&, int x) { return x; });
    db->hold();
    auto h = exec.enqueue(echo, 7); // its end is the commit that hangs
    REQUIRE(eventually([&] { return db->held() == 1; }));
    auto target = exec.actor();
    auto id = h.execution_id();
    auto reply = std::make_shared<std::promise<std::string>>();
    auto fut = reply->get_future();
    sys.spawn([=](caf::event_based_actor* self) {
      self
        ->request(target, caf::infinite, durable::actors::wait_atom::value, id,
                  caf::timespan{100ms})
        .then(
          [=](durable::actors::wait_reply& r) {
            reply->set_value(r.record ? "finished" : "timed out");
          },
          [=](caf::error& err) { reply->set_value(caf::to_string(err)); });
    });
    REQUIRE(fut.wait_for(hang_guard) == std::future_status::ready);
    CHECK(fut.get() == "timed out");
    CHECK(db->held() == 1); // given up while the commit still hung
    db->open();
    auto done = h.wait_for(hang_guard);
    REQUIRE(done.has_value());
    CHECK(done->output == 7);
  }

  TEST_CASE("shutdown() fails a wait sent to the executor actor") {
    // A CAF program (or the gateway, for a remote client) waits through the
    // executor actor; its request gets the same error as the facade's wait.
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    caf::actor_system sys{cfg};
    auto exec = std::make_unique<durable::executor>(
      sys, durable::test::make_store(), test_options());
    sleeper s{*exec};
    auto target = exec->actor();
    auto id = s.h.execution_id();
    auto reply = std::make_shared<std::promise<std::string>>();
    auto fut = reply->get_future();
    sys.spawn([=](caf::event_based_actor* self) {
      self
        ->request(target, caf::infinite, durable::actors::wait_atom::value, id)
        .then(
          [=](durable::execution_record&) {
            reply->set_value("returned a result");
          },
          [=](caf::error& err) {
            auto e = durable::actors::from_caf_error(err);
            reply->set_value(e ? e->what()
                               : "not a durable error: " + caf::to_string(err));
          });
    });
    REQUIRE(eventually([&] { return exec->waiter_count() == 1; }));
    returns_in_time("~executor()", [&] { exec.reset(); });
    if (fut.wait_for(hang_guard) != std::future_status::ready) {
      std::fprintf(stderr,
                   "HANG: the executor actor never answered the wait\n");
      std::fflush(stderr);
      std::_Exit(3);
    }
    CHECK(fut.get() == shut_down_message(id));
  }

  TEST_CASE("shutdown() returns on another thread than the one that built "
            "the executor") {
    // CAF 0.17 pins an actor system's logger to the threads that touched it,
    // and the system's destructor waits until the logger goes.
    durable::executor exec{durable::test::make_store(), test_options()};
    CHECK(exec.waiter_count() == 0);
    returns_in_time("shutdown()", [&] { exec.shutdown(); });
  }

  TEST_CASE("shutdown() returns while a thread that waited earlier lives on") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto inc = exec.task<int, int>({.id = "inc", .timeout = 10s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto h = exec.enqueue(inc, 1);
    // A thread that waits once, then stays alive until the test ends.
    auto waited = std::make_shared<std::promise<bool>>();
    auto stay = std::make_shared<std::promise<void>>();
    auto waited_fut = waited->get_future();
    std::thread waiter{[h, waited, stay] {
      waited->set_value(h.wait_for(hang_guard).has_value());
      stay->get_future().wait();
    }};
    REQUIRE(waited_fut.wait_for(hang_guard) == std::future_status::ready);
    CHECK(waited_fut.get());
    {
      // On the thread that built the executor: only the waiter's thread
      // could hold the shutdown.
      watchdog guard{"shutdown()"};
      exec.shutdown();
    }
    stay->set_value();
    waiter.join();
  }
}
