#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/forwarding_store.hpp"
#include "engine_test_support.hpp"

// Retention on a running engine, on the backend this executable links: the
// maintenance leader removes finished trees after the general duration of
// their root's status, or after their root task's own (per-task override).

using namespace std::chrono_literals;
using engine_test::await;
using engine_test::eventually;
using engine_test::test_options;

namespace {

/// A store whose prune() calls wait until open() (or twice the hang guard),
/// so that a test can keep a removal in progress.
class held_prunes final : public durable::forwarding_store {
public:
  using forwarding_store::forwarding_store;

  ~held_prunes() override {
    open();
  }

  durable::prune_result prune(const durable::prune_request& req) override {
    {
      std::unique_lock lock{mtx_};
      ++entered_;
      ++held_;
      opened_.wait_for(lock, 2 * engine_test::hang_guard,
                       [this] { return open_; });
      --held_;
    }
    return forwarding_store::prune(req);
  }

  /// prune() calls so far, and those waiting now.
  int entered() {
    std::lock_guard lock{mtx_};
    return entered_;
  }
  int held() {
    std::lock_guard lock{mtx_};
    return held_;
  }

  void open() {
    {
      std::lock_guard lock{mtx_};
      open_ = true;
    }
    opened_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable opened_;
  int entered_ = 0;
  int held_ = 0;
  bool open_ = false;
};

} // namespace

TEST_SUITE("integration.retention") {
  TEST_CASE("a task override keeps its trees longer or removes them sooner "
            "than the general retention") {
    auto db = durable::test::make_store();
    auto opts = test_options();
    // Wide margins: a sweep runs every 100 ms to 1 s, and the general
    // duration must not pass before the short override's trees are gone.
    opts.retention.completed = 5s;
    opts.retention.sweep_interval = 100ms;
    opts.retention.tasks["kept"].completed = 1h;
    opts.retention.tasks["brief"].completed = 200ms;
    // Failed trees of "kept" fall back to the general duration: none.
    durable::executor exec{db, opts};
    auto echo = [&](const char* id) {
      return exec.task<int, int>({.id = id, .timeout = 10s, .may_block = false},
                                 [](durable::task_context&, int x) {
                                   return x;
                                 });
    };
    auto leaf = echo("leaf");
    auto plain = echo("plain");
    auto brief = echo("brief");
    auto kept = exec.parent_task<int, std::string>(
      {.id = "kept", .timeout = 10s}, [leaf](durable::task_context&, int n) {
        durable::parent_output<std::string> out{.output = "spawned"};
        for (int i = 0; i < n; ++i)
          out.children.add(leaf, i);
        return out;
      });
    auto kept_run = await(exec.enqueue(kept, 3));
    REQUIRE(kept_run.ok());
    const auto kept_id = kept_run.execution.id;
    auto kids = db->children_of(kept_id);
    REQUIRE(kids.size() == 3);
    auto plain_run = await(exec.enqueue(plain, 1));
    REQUIRE(plain_run.ok());
    auto brief_run = await(exec.enqueue(brief, 2));
    REQUIRE(brief_run.ok());
    const auto plain_id = plain_run.execution.id;
    const auto brief_id = brief_run.execution.id;
    auto gone = [&](const std::string& id) { return !db->get(id).has_value(); };

    // The short override goes first, while the general duration holds.
    REQUIRE(eventually([&] { return gone(brief_id); }));
    CHECK_FALSE(gone(plain_id));
    CHECK_FALSE(gone(kept_id));

    // Then the general one; the long override keeps its whole tree.
    REQUIRE(eventually([&] { return gone(plain_id); }));
    CHECK_FALSE(gone(kept_id));
    for (const auto& k : kids)
      CHECK_FALSE(gone(k.id));
    CHECK(db->children_of(kept_id).size() == 3);
    exec.shutdown();
  }

  TEST_CASE("a removal in progress does not hold back the engine's commits") {
    // A sweep of a large backlog takes tens of milliseconds per batch on
    // PostgreSQL; executions must keep finishing meanwhile.
    auto db = std::make_shared<held_prunes>(durable::test::make_store());
    auto opts = test_options();
    opts.retention.completed = 1h;
    opts.retention.sweep_interval = 100ms;
    durable::executor exec{db, opts};
    auto echo = exec.task<int, int>(
      {.id = "echo", .timeout = 10s, .may_block = false},
      [](durable::task_context&, int x) { return x; });
    // The leader's first sweep starts at once and now waits in prune().
    REQUIRE(eventually([&] { return db->entered() > 0; }));
    for (int i = 0; i < 3; ++i) {
      auto run = exec.enqueue(echo, i).wait_for(engine_test::hang_guard);
      REQUIRE_MESSAGE(run.has_value(),
                      "an execution did not finish while a removal ran");
      CHECK(run->output == i);
      // It finished while the removal was still held, not after it.
      CHECK(db->held() == 1);
    }
    CHECK(db->entered() == 1); // one batch at a time: still the first
    db->open();
    exec.shutdown();
  }
}
