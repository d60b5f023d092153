// Waits of an executor whose PostgreSQL store does not LISTEN (behind a
// pooler that breaks it): no announcement of another node's commit ever
// reaches it, so only its re-check of waiters can see the end.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "durable/durable.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "support/pg_fixture.hpp"

using namespace std::chrono_literals;
namespace pgs = durable::storage::pg;
namespace tpg = durable::test::pg;

namespace {

durable::executor_options small_node() {
  durable::executor_options o;
  o.worker_threads = 4;
  o.scheduler_threads = 2;
  o.poll_interval = durable::millis{100};
  return o;
}

/// Polls `pred` until it holds; false after a 30 s hang guard.
template <class Pred>
bool eventually(Pred pred) {
  auto until = std::chrono::steady_clock::now() + 30s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

TEST_SUITE("pg.wait") {
  TEST_CASE("a client that does not listen sees another node's end of an "
            "execution") {
    const auto schema = tpg::unique_schema();
    auto release = std::make_shared<std::atomic<bool>>(false);
    {
      auto worker_db = pgs::postgres(tpg::options(schema));
      auto client_store = tpg::options(schema);
      client_store.listen = false;
      auto client_db = pgs::postgres(client_store);
      auto body = [release](durable::task_context& ctx, int x) {
        while (!release->load() && !ctx.stop_requested())
          std::this_thread::sleep_for(2ms);
        return x + 1;
      };
      durable::executor worker{worker_db, small_node()};
      auto client_opts = small_node();
      client_opts.run_tasks = false;
      client_opts.poll_interval = durable::millis{500};
      durable::executor client{client_db, client_opts};
      worker.task<int, int>({.id = "gated", .timeout = 60s}, body);
      auto gated = client.task<int, int>({.id = "gated", .timeout = 60s}, body);

      auto h = client.enqueue(gated, 41);
      REQUIRE(eventually([&] {
        return worker.get(h.execution_id()).status
               == durable::execution_status::running;
      }));
      const auto started = std::chrono::steady_clock::now();
      auto fut = std::async(std::launch::async,
                            [h] { return h.wait_for(30s); });
      REQUIRE(eventually([&] { return client.waiter_count() == 1; }));
      *release = true;
      REQUIRE(fut.wait_for(40s) == std::future_status::ready);
      auto r = fut.get();
      const auto took = std::chrono::steady_clock::now() - started;
      REQUIRE_MESSAGE(r.has_value(), "the wait gave up after its full 30 s");
      CHECK(r->ok());
      CHECK(r->output == 42);
      // Hang guard only: the bound is about one poll interval (500 ms).
      CHECK(took < 10s);
    }
    tpg::drop_schema(schema);
  }
}
