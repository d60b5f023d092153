// The engine's scheduler (actors/scheduler.hpp) on real threads and the
// real clock: CAF's timeouts and delayed messages still work on it, while
// actors that never set a timeout exit without the clock.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/scheduler.hpp"

using namespace std::chrono_literals;

namespace {

/// A two-thread actor system on the engine's scheduler.
struct engine_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  engine_system() {
    cfg.set("scheduler.max-threads", 2);
    durable::actors::use_engine_scheduler(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// Waits for `f` (hang guard: 20 s) and returns whether it got a value.
bool arrives(std::future<void>& f) {
  return f.wait_for(20s) == std::future_status::ready;
}

/// Whether an actor waiting with a 20 ms receive timeout gets it.
bool receive_timeout_fires(caf::actor_system& sys) {
  std::promise<void> fired;
  auto f = fired.get_future();
  sys.spawn([&fired](caf::event_based_actor* self) -> caf::behavior {
    return {
      caf::after(20ms) >>
        [&fired, self] {
          fired.set_value();
          self->quit();
        },
    };
  });
  return arrives(f);
}

} // namespace

TEST_SUITE("scheduler") {
  TEST_CASE("a system configured for it runs on the engine scheduler") {
    engine_system engine;
    CHECK(durable::actors::runs_engine_scheduler(*engine.sys));
    caf::actor_system_config plain_cfg;
    caf::actor_system plain{plain_cfg};
    CHECK_FALSE(durable::actors::runs_engine_scheduler(plain));
  }

  TEST_CASE("receive timeouts fire on the engine scheduler") {
    engine_system engine;
    CHECK(receive_timeout_fires(*engine.sys));
  }

  TEST_CASE("a request with a deadline times out on the engine scheduler") {
    engine_system engine;
    // Accepts the request and keeps it unanswered.
    auto silent = engine.sys->spawn(
      [](caf::event_based_actor* self) -> caf::behavior {
        auto held = std::make_shared<std::vector<caf::response_promise>>();
        return {
          [self, held](int) { held->push_back(self->make_response_promise()); },
        };
      });
    caf::scoped_actor self{*engine.sys};
    bool timed_out = false;
    self->request(silent, 50ms, 1)
      .receive([](int) {},
               [&](caf::error& err) {
                 timed_out = err == caf::sec::request_timeout;
               });
    CHECK(timed_out);
    self->send_exit(silent, caf::exit_reason::user_shutdown);
  }

  TEST_CASE(
    "actors exit with and without timeouts, and later ones still fire") {
    engine_system engine;
    // Many actors that never touch the clock, and some that exit with a long
    // timeout pending: afterwards the clock still delivers on time.
    for (int i = 0; i < 2000; ++i)
      engine.sys->spawn([](caf::event_based_actor* self) { self->quit(); });
    for (int i = 0; i < 200; ++i)
      engine.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
        self->send(self, 0);
        return {
          [self](int) { self->quit(); },
          caf::after(std::chrono::seconds(3600)) >> [] {},
        };
      });
    std::promise<void> delivered;
    auto f = delivered.get_future();
    auto receiver = engine.sys->spawn(
      [&delivered](caf::event_based_actor* self) -> caf::behavior {
        return {
          [&delivered, self](int) {
            delivered.set_value();
            self->quit();
          },
        };
      });
    // A delayed message goes through the clock thread.
    engine.sys->spawn([receiver](caf::event_based_actor* self) {
      self->delayed_send(receiver, 30ms, 1);
    });
    CHECK(arrives(f));
    CHECK(receive_timeout_fires(*engine.sys));
  }

  // An idle worker stops polling and waits; CAF wakes it for work from
  // outside the scheduler only. Work an actor queues on its own worker
  // (here: actors it spawns) must still reach the waiting worker at once,
  // not after a relaxed sleep (60 s here, so that only the wake counts).
  TEST_CASE("a waiting worker wakes to take work a busy worker queued") {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    cfg.set("work-stealing.relaxed-sleep-duration", caf::timespan{60s});
    durable::actors::use_engine_scheduler(cfg);
    caf::actor_system sys{cfg};
    // Both workers poll out and wait.
    std::this_thread::sleep_for(200ms);
    constexpr int jobs = 200;
    std::mutex mtx;
    std::set<std::thread::id> threads;
    std::atomic<int> left{jobs};
    std::promise<void> all_ran;
    auto f = all_ran.get_future();
    auto job = [&] {
      // Long enough that one worker alone takes 100 ms for all of them.
      const auto until = std::chrono::steady_clock::now() + 500us;
      while (std::chrono::steady_clock::now() < until) {
      }
      {
        std::lock_guard guard{mtx};
        threads.insert(std::this_thread::get_id());
      }
      if (left.fetch_sub(1) == 1)
        all_ran.set_value();
    };
    sys.spawn([&job](caf::event_based_actor* self) {
      for (int i = 0; i < jobs; ++i)
        self->spawn([&job](caf::event_based_actor* worker) {
          job();
          worker->quit();
        });
    });
    REQUIRE(arrives(f));
    std::lock_guard guard{mtx};
    CHECK(threads.size() == 2);
  }

} // TEST_SUITE
