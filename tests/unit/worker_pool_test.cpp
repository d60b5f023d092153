#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>

#include "durable/actors/worker_pool.hpp"

namespace durable::actors {

namespace {

using namespace std::chrono_literals;

/// Only guards against a hang: every wait below ends on a condition.
constexpr auto hang_guard = 20s;

/// Jobs that report their start and block until released.
struct gate {
  std::mutex mtx;
  std::condition_variable cv;
  std::size_t started = 0;
  std::size_t finished = 0;
  bool open = false;

  auto job() {
    return [this] {
      std::unique_lock guard{mtx};
      ++started;
      cv.notify_all();
      cv.wait(guard, [this] { return open; });
      ++finished;
      cv.notify_all();
    };
  }

  bool wait_started(std::size_t n) {
    std::unique_lock guard{mtx};
    return cv.wait_for(guard, hang_guard, [&] { return started >= n; });
  }

  bool wait_finished(std::size_t n) {
    std::unique_lock guard{mtx};
    return cv.wait_for(guard, hang_guard, [&] { return finished >= n; });
  }

  void release() {
    std::lock_guard guard{mtx};
    open = true;
    cv.notify_all();
  }
};

/// Opens a gate when the scope ends, so that a failed check never leaves
/// the pool's destructor waiting for a blocked job.
struct release_at_exit {
  gate& g;
  ~release_at_exit() {
    g.release();
  }
};

/// Waits until `pred` holds, checking between short yields; false after
/// the hang guard.
template <class Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + hang_guard;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace

TEST_SUITE("actors.worker_pool") {
  TEST_CASE("starts no thread and grows to the jobs running at once") {
    gate g;
    worker_pool pool{4, 1h};
    release_at_exit guard{g};
    CHECK(pool.threads() == 0);
    for (int i = 0; i < 4; ++i)
      pool.submit(g.job());
    // All four run at once, so the pool started a thread for each.
    REQUIRE(g.wait_started(4));
    CHECK(pool.threads() == 4);
    // Past its maximum, jobs queue instead.
    pool.submit(g.job());
    pool.submit(g.job());
    CHECK(pool.threads() == 4);
    CHECK(pool.pending() == 6);
    g.release();
    REQUIRE(g.wait_finished(6));
    REQUIRE(eventually([&] { return pool.pending() == 0; }));
    // A job for an idle thread starts none.
    pool.submit(g.job());
    REQUIRE(g.wait_finished(7));
    CHECK(pool.threads() == 4);
  }

  TEST_CASE("one job at a time needs one thread") {
    worker_pool pool{8, 1h};
    for (std::size_t i = 1; i <= 5; ++i) {
      std::atomic<bool> done{false};
      pool.submit([&done] { done = true; });
      REQUIRE(eventually([&] { return done.load(); }));
      REQUIRE(eventually([&] { return pool.pending() == 0; }));
    }
    CHECK(pool.threads() == 1);
  }

  TEST_CASE("idle threads exit, and the pool grows again") {
    gate g;
    gate again;
    worker_pool pool{3, 1ms};
    release_at_exit guard{g};
    release_at_exit guard_again{again};
    for (int i = 0; i < 3; ++i)
      pool.submit(g.job());
    REQUIRE(g.wait_started(3));
    CHECK(pool.threads() == 3);
    g.release();
    REQUIRE(g.wait_finished(3));
    REQUIRE(eventually([&] { return pool.threads() == 0; }));
    for (int i = 0; i < 2; ++i)
      pool.submit(again.job());
    REQUIRE(again.wait_started(2));
    CHECK(pool.threads() == 2);
    again.release();
    REQUIRE(again.wait_finished(2));
  }

  TEST_CASE("close runs the queued jobs, then drops new ones") {
    std::atomic<int> ran{0};
    gate g;
    worker_pool pool{1, 1h};
    release_at_exit guard{g};
    pool.submit(g.job()); // holds the only thread while the others queue
    REQUIRE(g.wait_started(1));
    for (int i = 0; i < 5; ++i)
      pool.submit([&ran] { ++ran; });
    CHECK(pool.pending() == 6);
    g.release();
    pool.close();
    CHECK(ran.load() == 5);
    CHECK(pool.threads() == 0);
    pool.submit([&ran] { ++ran; });
    CHECK(ran.load() == 5);
  }
}

} // namespace durable::actors
