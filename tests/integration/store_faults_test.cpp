#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"
#include "support/faulty_store.hpp"

// What the engine does when a write fails, commits in doubt or is refused
// for one row: every row it owns is carried by one of its actors or handed
// back, so no execution is stranded (owned, renewed and run by nobody).

using namespace std::chrono_literals;
using durable::execution_status;
using durable::transition;
using durable::test::fault;
using durable::test::faulty_store;
using engine_test::test_options;

namespace {

/// Long enough that nothing here finishes through lease expiry: a row left
/// to its lease would outlast the hang guards below.
durable::executor_options long_lease_options() {
  auto o = test_options();
  o.lease_duration = 60'000ms;
  o.lease_renew_interval = 20'000ms;
  return o;
}

/// Short renewals, for the sweep of rows no actor carries.
durable::executor_options short_renewal_options() {
  auto o = test_options();
  o.lease_duration = 60'000ms;
  o.lease_renew_interval = 200ms;
  return o;
}

constexpr durable::millis guard{15'000};

/// A transition of the task `task_id` that moves its row to `status`.
faulty_store::transition_test moves(std::string task_id,
                                    execution_status status) {
  return [task_id = std::move(task_id), status](const transition& t) {
    return t.next.task_id == task_id && t.next.status == status;
  };
}

durable::task_ref<int, int> counted(durable::executor& exec,
                                    std::atomic<int>& runs,
                                    std::string id = "counted") {
  return exec.task<int, int>({.id = std::move(id), .timeout = 5s},
                             [&runs](durable::task_context&, int x) {
                               ++runs;
                               return x + 1;
                             });
}

/// A parent task "parent" that spawns `n` children of `child` per run and
/// counts its runs.
durable::task_ref<int, durable::parent_result<std::string>>
spawner(durable::executor& exec, const durable::task_ref<int, int>& child,
        std::atomic<int>& runs) {
  return exec.parent_task<int, std::string>(
    {.id = "parent", .timeout = 5s},
    [&runs, child](durable::task_context&, int n) {
      ++runs;
      durable::parent_output<std::string> out{.output = "spawned"};
      for (int i = 0; i < n; ++i)
        out.children.add(child, i);
      return out;
    });
}

} // namespace

TEST_SUITE("integration.store_faults") {
  TEST_CASE("a completion that failed to commit is handed back and runs "
            "again") {
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(moves("counted", execution_status::completed),
                     fault::unavailable);
    durable::executor exec{db, long_lease_options()};
    std::atomic<int> runs{0};
    auto task = counted(exec, runs);
    auto h = exec.enqueue(task, 41);
    auto r = h.wait_for(guard);
    REQUIRE_MESSAGE(r.has_value(), "the execution was stranded");
    CHECK(r->output == 42);
    CHECK(runs.load() == 2);
    CHECK(db->faults() == 1);
    auto row = exec.get(h.execution_id());
    CHECK(row.status == execution_status::completed);
    CHECK(row.recoveries == 1);
  }

  TEST_CASE("a completion committed in doubt runs once") {
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(moves("counted", execution_status::completed),
                     fault::in_doubt);
    durable::executor exec{db, long_lease_options()};
    std::atomic<int> runs{0};
    auto task = counted(exec, runs);
    auto h = exec.enqueue(task, 1);
    auto r = h.wait_for(guard);
    REQUIRE(r.has_value());
    CHECK(r->output == 2);
    CHECK(runs.load() == 1);
    CHECK(exec.get(h.execution_id()).recoveries == 0);
  }

  TEST_CASE("a parent whose spawning commit was in doubt still supervises "
            "its children") {
    // The write that stores the children commits, but its reply is an
    // error: the parent's actor must learn from the row that it waits for
    // children, not leave it waiting with nobody to finish it.
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(moves("parent", execution_status::waiting_for_children),
                     fault::in_doubt);
    durable::executor exec{db, long_lease_options()};
    std::atomic<int> child_runs{0};
    std::atomic<int> parent_runs{0};
    auto child = counted(exec, child_runs, "child");
    auto parent = spawner(exec, child, parent_runs);
    auto h = exec.enqueue(parent, 3);
    auto r = h.wait_for(guard);
    REQUIRE_MESSAGE(r.has_value(), "the parent was left waiting");
    REQUIRE(r->ok());
    CHECK(r->output->children.size() == 3);
    CHECK(parent_runs.load() == 1);
    CHECK(child_runs.load() == 3);
  }

  TEST_CASE("a parent whose spawning commit failed runs again") {
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(moves("parent", execution_status::waiting_for_children),
                     fault::unavailable);
    durable::executor exec{db, long_lease_options()};
    std::atomic<int> child_runs{0};
    std::atomic<int> parent_runs{0};
    auto child = counted(exec, child_runs, "child");
    auto parent = spawner(exec, child, parent_runs);
    auto h = exec.enqueue(parent, 2);
    auto r = h.wait_for(guard);
    REQUIRE_MESSAGE(r.has_value(), "the parent was stranded");
    REQUIRE(r->ok());
    CHECK(parent_runs.load() == 2);
    CHECK(child_runs.load() == 2); // the first run stored no children
  }

  TEST_CASE("rows of a claim committed in doubt are handed back and run") {
    // The claim takes the rows, but its reply is an error: no actor ever
    // starts for them, and the renewals keep them owned by this node.
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    auto opts = short_renewal_options();
    opts.claim_on_insert = false; // every row goes through a claim
    durable::executor exec{db, opts};
    std::atomic<int> runs{0};
    auto task = counted(exec, runs);
    db->fail_claims(fault::in_doubt);
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < 4; ++i)
      hs.push_back(exec.enqueue(task, i));
    for (int i = 0; i < 4; ++i) {
      auto r = hs[i].wait_for(guard);
      REQUIRE_MESSAGE(r.has_value(), "a claimed row was stranded");
      CHECK(r->output == i + 1);
    }
    CHECK(db->faults() == 1);
    CHECK(runs.load() == 4);
  }

  TEST_CASE("a refused outcome fails its own execution and no batch-mate") {
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->refuse([](const transition& t) {
      return t.next.output && *t.next.output == "13";
    });
    durable::executor exec{db, long_lease_options()};
    std::atomic<int> runs{0};
    auto task = counted(exec, runs);
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < 20; ++i)
      hs.push_back(exec.enqueue(task, i));
    for (int i = 0; i < 20; ++i) {
      auto r = hs[i].wait_for(guard);
      REQUIRE_MESSAGE(r.has_value(), "execution " << i << " was stranded");
      if (i == 12) {
        CHECK(r->status() == execution_status::failed);
        REQUIRE(r->error().has_value());
        CHECK(r->error()->message.find("outcome could not be stored")
              != std::string::npos);
        CHECK_FALSE(r->error()->retryable);
      } else {
        CHECK(r->output == i + 1);
      }
    }
    CHECK(runs.load() == 20);
  }

  TEST_CASE("a cancel that other writers outrun every time fails and says so") {
    // Every cancel of the row conflicts, as if other writers always moved it
    // first: after its attempts the call fails with a retryable error instead
    // of returning the row uncancelled as if it were done.
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    // Before the executor: its body may still run while the executor stops.
    std::atomic<bool> started{false}, release{false};
    durable::executor exec{db, long_lease_options()};
    auto task = engine_test::held_task(exec, started, release);
    auto h = exec.enqueue(task, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    db->refuse(moves("held", execution_status::cancelled),
               durable::write_status::conflict);
    try {
      exec.cancel(h.execution_id());
      FAIL("the cancel reported success");
    } catch (const durable::error& e) {
      CHECK(e.info().retryable);
      CHECK(std::string{e.what()}.find("could not be cancelled")
            != std::string::npos);
      CHECK(std::string{e.what()}.find(h.execution_id()) != std::string::npos);
    }
    CHECK(exec.get(h.execution_id()).status == execution_status::running);
    db->refuse(nullptr);
    auto row = exec.cancel(h.execution_id());
    CHECK(row.status == execution_status::cancelled);
    release = true;
    auto r = h.wait_for(guard);
    REQUIRE(r.has_value());
    CHECK(r->status() == execution_status::cancelled);
  }

  TEST_CASE("an enqueue whose insert is in doubt is not reported retryable") {
    // Enqueuing again after such an error may run the execution twice: the
    // error says the execution may exist, and is not retryable. One that
    // failed before the store is retryable.
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    // Before the executor: the execution enqueued in doubt still runs while
    // the executor stops.
    std::atomic<int> runs{0};
    durable::executor exec{db, long_lease_options()};
    auto task = counted(exec, runs);
    REQUIRE(exec.enqueue(task, 0).wait_for(guard).has_value()); // warmed up
    auto refused = [&] {
      try {
        exec.enqueue(task, 1);
      } catch (const durable::error& e) {
        return std::optional<durable::execution_error>{e.info()};
      }
      return std::optional<durable::execution_error>{};
    };
    db->fail_inserts(fault::in_doubt);
    auto doubt = refused();
    REQUIRE(doubt.has_value());
    CHECK_FALSE(doubt->retryable);
    CHECK(doubt->message.find("may have been enqueued") != std::string::npos);
    db->fail_inserts(fault::unavailable);
    auto failed = refused();
    REQUIRE(failed.has_value());
    CHECK(failed->retryable);
  }

} // TEST_SUITE
