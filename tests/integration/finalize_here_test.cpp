#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

// A parent that stored its children itself runs its finalize task on its
// own actor before the finalize row exists, when the node has a slot to
// spare: the finalize's outcome and the parent's end are stored in one
// transition. A retry, a parent cancelled meanwhile, no slot to spare and
// an adopted parent each fall back to the ordinary path: the finalize row
// is stored first and runs as an execution of its own.

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::eventually;
using engine_test::recording_store;
using engine_test::test_options;

namespace {

using fin_input = durable::finalize_input<std::string, int>;
/// What a parent of sleeping children (string outputs) finalizes.
using nap_input = durable::finalize_input<std::string, std::string>;
using applied = recording_store::applied_write;

durable::task_ref<int, int> incrementer(durable::executor& exec) {
  return exec.task<int, int>({.id = "inc", .timeout = 10s},
                             [](durable::task_context&, int x) {
                               return x + 1;
                             });
}

int sum_of(const fin_input& in) {
  int sum = 0;
  for (const auto& c : in.children)
    sum += c.output().value_or(-1000);
  return sum;
}

/// A parent that spawns `inc` for 0..n-1 and finalizes with `fin`.
durable::task_ref<int, int> fan(durable::executor& exec,
                                const durable::task_ref<int, int>& inc,
                                const durable::task_ref<fin_input, int>& fin) {
  return exec.parent_task<int, std::string>(
    {.id = "fan", .timeout = 10s},
    [inc](durable::task_context&, int n) {
      durable::parent_output<std::string> out{.output = "fanned"};
      for (int i = 0; i < n; ++i)
        out.children.add(inc, i);
      return out;
    },
    fin);
}

/// A parent of one sleeping child (woken by its id, the parent's input)
/// that finalizes with a count of its children. A sleeping child holds no
/// slot, so every slot can be busy elsewhere when it is woken.
struct napper {
  durable::task_ref<std::string, std::string> nap;
  durable::task_ref<std::string, int> parent;

  explicit napper(durable::executor& exec)
    : nap(exec.sleeping_task<std::string>({.id = "nap", .timeout = 60s})) {
    auto fin = exec.task<nap_input, int>(
      {.id = "count", .timeout = 10s},
      [](durable::task_context&, const nap_input& in) {
        return static_cast<int>(in.children.size());
      });
    parent = exec.parent_task<std::string, std::string>(
      {.id = "napper", .timeout = 10s},
      [nap = nap](durable::task_context&, const std::string& uid) {
        durable::parent_output<std::string> out{.output = "napping"};
        out.children.add(nap, uid);
        return out;
      },
      fin);
  }
};

/// Runs one execution to its end, so that the node's first claim has
/// answered and it takes new rows locally (see claim_on_insert_test.cpp).
void warm_up(durable::executor& exec, const durable::task_ref<int, int>& t) {
  REQUIRE(await(exec.enqueue(t, 0)).ok());
}

bool inserts(const applied& w, const std::string& id, execution_status s) {
  return std::any_of(w.inserted.begin(), w.inserted.end(), [&](const auto& r) {
    return r.id == id && r.status == s;
  });
}

bool inserts(const applied& w, const std::string& id) {
  return std::any_of(w.inserted.begin(), w.inserted.end(),
                     [&](const auto& r) { return r.id == id; });
}

} // namespace

TEST_SUITE("integration.finalize_here") {
  TEST_CASE("a local parent's finalize task runs before its row is stored and "
            "ends with its parent in one write") {
    auto db = std::make_shared<recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    std::mutex mtx;
    std::string seen_id;
    int seen_attempt = -1;
    auto fin = exec.task<fin_input, int>({.id = "sum", .timeout = 10s},
                                         [&](durable::task_context& ctx,
                                             const fin_input& in) {
                                           std::lock_guard guard{mtx};
                                           seen_id = ctx.execution_id;
                                           seen_attempt = ctx.attempt;
                                           return sum_of(in);
                                         });
    auto parent = fan(exec, inc, fin);
    warm_up(exec, inc);

    auto r = await(exec.enqueue(parent, 4));
    REQUIRE(r.ok());
    CHECK(r.output == 10); // 1 + 2 + 3 + 4
    REQUIRE(r.execution.finalize.has_value());
    const auto fin_id = r.execution.finalize->execution_id;
    {
      std::lock_guard guard{mtx};
      CHECK(seen_id == fin_id);
      CHECK(seen_attempt == 0);
    }

    // The parent's last write inserted the finalize row, completed, and
    // ended the parent; the finalize row was never written on its own and
    // the parent was never stored waiting for it.
    auto parent_writes = db->writes_of(r.execution.id);
    REQUIRE_FALSE(parent_writes.empty());
    const auto& last = parent_writes.back();
    CHECK(last.moved.status == execution_status::completed);
    CHECK(inserts(last, fin_id, execution_status::completed));
    for (const auto& w : parent_writes)
      CHECK(w.moved.status != execution_status::waiting_for_finalize);
    CHECK(db->writes_of(fin_id).empty());
    auto claimed = db->claimed_ids();
    CHECK(std::find(claimed.begin(), claimed.end(), fin_id) == claimed.end());

    auto stored = exec.get(fin_id);
    CHECK(stored.status == execution_status::completed);
    CHECK(stored.output == "10");
    CHECK(stored.attempt == 0);
    CHECK(stored.started_at.has_value());
    CHECK(stored.finished_at.has_value());
    CHECK_FALSE(stored.owner.has_value());
    REQUIRE(stored.parent.has_value());
    CHECK(stored.parent->is_finalize);
    CHECK(stored.parent->execution_id == r.execution.id);
    CHECK(r.execution.waiting_for_finalize_started_at.has_value());
    // The slot is given back just after the waiter may get the row.
    CHECK(eventually([&] { return exec.running_count() == 0; }));
  }

  TEST_CASE("a finalize task that fails for good fails its parent in the same "
            "write") {
    auto db = std::make_shared<recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    auto fin = exec.task<fin_input, int>(
      {.id = "sum", .timeout = 10s},
      [](durable::task_context&, const fin_input&) -> int {
        throw durable::error::non_retryable("totals do not add up");
      });
    auto parent = fan(exec, inc, fin);
    warm_up(exec, inc);

    auto h = exec.enqueue(parent, 3);
    auto r = await(h);
    CHECK(r.execution.status == execution_status::finalize_failed);
    REQUIRE(r.execution.error.has_value());
    CHECK(r.execution.error->message == "totals do not add up");
    CHECK_FALSE(r.execution.error->retryable);
    REQUIRE(r.execution.finalize.has_value());
    const auto fin_id = r.execution.finalize->execution_id;
    auto parent_writes = db->writes_of(h.execution_id());
    REQUIRE_FALSE(parent_writes.empty());
    CHECK(parent_writes.back().moved.status
          == execution_status::finalize_failed);
    CHECK(inserts(parent_writes.back(), fin_id, execution_status::failed));
    auto stored = exec.get(fin_id);
    CHECK(stored.status == execution_status::failed);
    REQUIRE(stored.error.has_value());
    CHECK(stored.error->message == "totals do not add up");
  }

  TEST_CASE("a finalize task that fails with retries left is stored for its "
            "next attempt and the parent waits for it") {
    auto db = std::make_shared<recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    std::atomic<int> runs{0};
    auto fin = exec.task<fin_input, int>(
      {.id = "sum", .timeout = 10s, .retry = {.max_attempts = 3}},
      [&](durable::task_context& ctx, const fin_input& in) {
        ++runs;
        if (ctx.attempt == 0)
          throw std::runtime_error("not yet");
        return sum_of(in);
      });
    auto parent = fan(exec, inc, fin);
    warm_up(exec, inc);

    auto r = await(exec.enqueue(parent, 3));
    REQUIRE(r.ok());
    CHECK(r.output == 6);
    CHECK(runs.load() == 2);
    const auto fin_id = r.execution.finalize->execution_id;
    auto parent_writes = db->writes_of(r.execution.id);
    auto waits = std::find_if(
      parent_writes.begin(), parent_writes.end(), [](const applied& w) {
        return w.moved.status == execution_status::waiting_for_finalize;
      });
    REQUIRE(waits != parent_writes.end());
    // Stored after its first attempt: ready for the second (or already
    // claimed by this node for it, when it may start at once).
    REQUIRE(inserts(*waits, fin_id));
    CHECK_FALSE(inserts(*waits, fin_id, execution_status::completed));
    CHECK_FALSE(inserts(*waits, fin_id, execution_status::failed));
    CHECK_FALSE(db->writes_of(fin_id).empty()); // its second attempt's end
    auto stored = exec.get(fin_id);
    CHECK(stored.status == execution_status::completed);
    CHECK(stored.attempt == 1);
  }

  TEST_CASE("a finalize task run before its row is stored is timed out at its "
            "deadline") {
    auto db = std::make_shared<recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    std::atomic<bool> stopped{false};
    auto fin = exec.task<fin_input, int>(
      {.id = "sum", .timeout = 100ms},
      [&](durable::task_context& ctx, const fin_input&) {
        auto until = std::chrono::steady_clock::now() + engine_test::hang_guard;
        while (!ctx.stop_requested()
               && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(1ms);
        stopped = ctx.stop_requested();
        return 0;
      });
    auto parent = fan(exec, inc, fin);
    warm_up(exec, inc);

    auto r = await(exec.enqueue(parent, 2));
    CHECK(r.execution.status == execution_status::finalize_failed);
    const auto fin_id = r.execution.finalize->execution_id;
    CHECK(exec.get(fin_id).status == execution_status::timed_out);
    CHECK(eventually([&] { return stopped.load(); }));
    CHECK(eventually([&] { return exec.running_count() == 0; }));
    auto parent_writes = db->writes_of(r.execution.id);
    CHECK(inserts(parent_writes.back(), fin_id, execution_status::timed_out));
  }

  TEST_CASE("a parent cancelled while its finalize task runs before being "
            "stored ends without a finalize row and frees the slot") {
    auto db = std::make_shared<recording_store>();
    durable::executor exec{db, test_options()};
    auto inc = incrementer(exec);
    std::atomic<bool> running{false};
    std::atomic<bool> stopped{false};
    auto fin = exec.task<fin_input, int>(
      {.id = "sum", .timeout = 30s},
      [&](durable::task_context& ctx, const fin_input&) {
        running = true;
        auto until = std::chrono::steady_clock::now() + engine_test::hang_guard;
        while (!ctx.stop_requested()
               && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(1ms);
        stopped = ctx.stop_requested();
        return 0;
      });
    auto parent = fan(exec, inc, fin);
    warm_up(exec, inc);

    auto h = exec.enqueue(parent, 2);
    REQUIRE(eventually([&] { return running.load(); }));
    CHECK(exec.get(h.execution_id()).status
          == execution_status::waiting_for_children);
    exec.cancel(h.execution_id());
    auto r = await(h);
    CHECK(r.execution.status == execution_status::cancelled);
    CHECK(eventually([&] { return stopped.load(); }));
    CHECK(eventually([&] { return exec.running_count() == 0; }));
    // Only the two children were ever stored under the parent.
    CHECK(db->children_of(h.execution_id()).size() == 2);
    CHECK_FALSE(r.execution.finalize.has_value());
    // The node still runs new work: the slot came back.
    CHECK(await(exec.enqueue(inc, 41)).output == 42);
  }

  TEST_CASE("a finalize task that finds no slot to spare is stored ready and "
            "claimed once one frees") {
    auto db = std::make_shared<recording_store>();
    auto opts = test_options();
    opts.max_concurrent = 1;
    durable::executor exec{db, opts};
    napper t{exec};
    std::atomic<bool> open{false};
    auto held = exec.task<int, int>({.id = "held", .timeout = 30s},
                                    [&](durable::task_context& ctx, int x) {
                                      engine_test::block_until(open, ctx);
                                      return x;
                                    });
    auto h = exec.enqueue(t.parent, std::string{"nap_1"});
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    auto busy = exec.enqueue(held, 7);
    REQUIRE(engine_test::reaches(exec, busy.execution_id(),
                                 execution_status::running));
    exec.wake(t.nap, "nap_1", durable::completed(std::string{"rested"}));
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_finalize));
    auto fin_id = exec.get(h.execution_id()).finalize->execution_id;
    CHECK(exec.get(fin_id).status == execution_status::ready);
    open = true;
    auto r = await(h);
    REQUIRE(r.ok());
    CHECK(r.output == 1);
    auto claimed = db->claimed_ids();
    CHECK(std::find(claimed.begin(), claimed.end(), fin_id) != claimed.end());
    CHECK(await(busy).output == 7);
  }

  TEST_CASE("with claim_on_insert off the finalize task is stored before it "
            "runs") {
    auto db = std::make_shared<recording_store>();
    auto opts = test_options();
    opts.claim_on_insert = false;
    durable::executor exec{db, opts};
    auto inc = incrementer(exec);
    auto fin = exec.task<fin_input, int>(
      {.id = "sum", .timeout = 10s},
      [](durable::task_context&, const fin_input& in) { return sum_of(in); });
    auto parent = fan(exec, inc, fin);
    auto r = await(exec.enqueue(parent, 3));
    REQUIRE(r.ok());
    CHECK(r.output == 6);
    const auto fin_id = r.execution.finalize->execution_id;
    auto parent_writes = db->writes_of(r.execution.id);
    CHECK(std::any_of(
      parent_writes.begin(), parent_writes.end(), [&](const applied& w) {
        return w.moved.status == execution_status::waiting_for_finalize
               && inserts(w, fin_id, execution_status::ready);
      }));
    auto claimed = db->claimed_ids();
    CHECK(std::find(claimed.begin(), claimed.end(), fin_id) != claimed.end());
  }

  TEST_CASE("a parent adopted from another node stores its finalize task "
            "before it runs") {
    auto inner = durable::test::make_store();
    auto first_db = std::make_shared<recording_store>(inner);
    std::string parent_id;
    {
      durable::executor first{first_db, test_options()};
      napper t{first};
      auto h = first.enqueue(t.parent, std::string{"nap_2"});
      parent_id = h.execution_id();
      REQUIRE(engine_test::reaches(first, parent_id,
                                   execution_status::waiting_for_children));
      // Shutting down hands the parent's lease back.
    }
    auto db = std::make_shared<recording_store>(inner);
    durable::executor second{db, test_options()};
    napper t{second};
    REQUIRE(eventually([&] {
      auto owner = second.get(parent_id).owner;
      return owner && *owner == second.incarnation();
    }));
    second.wake(t.nap, "nap_2", durable::completed(std::string{"rested"}));
    auto r = await(second.get_handle(t.parent, parent_id));
    REQUIRE(r.ok());
    CHECK(r.output == 1);
    const auto fin_id = r.execution.finalize->execution_id;
    auto parent_writes = db->writes_of(parent_id);
    CHECK(std::any_of(
      parent_writes.begin(), parent_writes.end(), [](const applied& w) {
        return w.moved.status == execution_status::waiting_for_finalize;
      }));
    CHECK_FALSE(db->writes_of(fin_id).empty()); // its own completion
  }

} // TEST_SUITE
