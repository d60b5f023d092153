// Waits end in every mode: also when the end of their execution is never
// announced.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "durable/durable.hpp"
#include "engine_test_support.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using engine_test::eventually;
using engine_test::test_options;

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
  auto gated = exec.task<int, int>(
    {.id = "gated", .timeout = 60s},
    [release](durable::task_context& ctx, int x) {
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

}
