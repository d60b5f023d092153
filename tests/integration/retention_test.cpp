#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

// Retention on a running engine, on the backend this executable links: the
// maintenance leader removes finished trees after the general duration of
// their root's status, or after their root task's own (per-task override).

using namespace std::chrono_literals;
using engine_test::await;
using engine_test::eventually;
using engine_test::test_options;

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
}
