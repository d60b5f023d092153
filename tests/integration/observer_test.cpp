#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/store_rules.hpp"
#include "engine_test_support.hpp"
#include "support/faulty_store.hpp"

// The executor's observer (executor_options::observer) hears what the
// engine survives on its own: one case per kind of engine_event.

using namespace std::chrono_literals;
using durable::engine_event;
using durable::execution_status;
using durable::store_failure;
using durable::transition;
using durable::test::fault;
using durable::test::faulty_store;
using engine_test::eventually;
using engine_test::test_options;
using type = durable::engine_event::type;

namespace {

/// Every event the observer heard, for the test thread to look at. It
/// must outlive the executor, whose threads call it.
class recorder {
public:
  durable::engine_observer observer() {
    return [this](const engine_event& e) {
      std::lock_guard guard{mutex_};
      events_.push_back(e);
    };
  }

  /// The first event that passes `test`, waiting for it up to the hang
  /// guard.
  std::optional<engine_event>
  wait_for(const std::function<bool(const engine_event&)>& test) {
    std::optional<engine_event> found;
    eventually([&] {
      std::lock_guard guard{mutex_};
      for (const auto& e : events_)
        if (test(e)) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }

  /// The first event of `kind` (about `execution_id`, if given).
  std::optional<engine_event> wait_for(type kind,
                                       const std::string& execution_id = {}) {
    return wait_for([&](const engine_event& e) {
      return e.kind == kind
             && (execution_id.empty() || e.execution_id == execution_id);
    });
  }

  std::size_t count(type kind) const {
    std::lock_guard guard{mutex_};
    return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(),
                    [kind](const engine_event& e) { return e.kind == kind; }));
  }

private:
  mutable std::mutex mutex_;
  std::vector<engine_event> events_;
};

durable::executor_options observed(recorder& rec) {
  auto o = test_options();
  o.lease_duration = 60'000ms;
  o.lease_renew_interval = 100ms;
  o.observer = rec.observer();
  return o;
}

faulty_store::transition_test completes(std::string task_id) {
  return [task_id = std::move(task_id)](const transition& t) {
    return t.next.task_id == task_id
           && t.next.status == execution_status::completed;
  };
}

durable::task_ref<int, int> plus_one(durable::executor& exec) {
  return exec.task<int, int>({.id = "plus_one", .timeout = 5s},
                             [](durable::task_context&, int x) {
                               return x + 1;
                             });
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

} // namespace

TEST_SUITE("integration.observer") {
  TEST_CASE("a failed store call is reported with its operation and failure") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(completes("plus_one"), fault::unavailable);
    durable::executor exec{db, observed(rec)};
    auto task = plus_one(exec);
    auto h = exec.enqueue(task, 1);
    CHECK(engine_test::await(h).output == 2);
    auto e = rec.wait_for(type::store_failure);
    REQUIRE(e.has_value());
    CHECK(e->operation == "apply");
    CHECK(e->failure == store_failure::unavailable);
    CHECK(e->level == engine_event::severity::warning);
    CHECK(contains(e->message, "apply failed before the store"));

    SUBCASE("and a write the store refuses names its execution") {
      db->refuse(completes("plus_one"));
      auto refused = exec.enqueue(task, 2);
      CHECK(engine_test::await(refused).status() == execution_status::failed);
      auto r = rec.wait_for(type::store_failure, refused.execution_id());
      REQUIRE(r.has_value());
      CHECK(r->level == engine_event::severity::error);
      CHECK(contains(r->message, "refused this transition"));
    }
    SUBCASE("and an insert") {
      db->fail_inserts(fault::unavailable);
      CHECK_THROWS(exec.enqueue(task, 3));
      auto i = rec.wait_for([](const engine_event& x) {
        return x.kind == type::store_failure && x.operation == "insert";
      });
      REQUIRE(i.has_value());
      CHECK(i->failure == store_failure::unavailable);
    }
  }

  TEST_CASE("a renewal that fails is reported and so is its return") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    durable::executor exec{db, observed(rec)};
    db->fail_renewals(true);
    auto failed = rec.wait_for(type::renewal_failed);
    REQUIRE(failed.has_value());
    CHECK(failed->operation == "renew_leases");
    CHECK(failed->failure == store_failure::unavailable);
    CHECK(contains(failed->message, "1 in a row"));
    CHECK(rec.count(type::renewal_restored) == 0);
    db->fail_renewals(false);
    auto restored = rec.wait_for(type::renewal_restored);
    REQUIRE(restored.has_value());
    CHECK(restored->level == engine_event::severity::info);
  }

  TEST_CASE("becoming and ceasing to be the maintenance leader is reported") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    durable::executor exec{db, observed(rec)};
    auto became = rec.wait_for(type::leadership);
    REQUIRE(became.has_value());
    CHECK(contains(became->message, "now the maintenance leader"));
    CHECK(became->leading);
    // A node that cannot renew does not know it still leads.
    db->fail_renewals(true);
    REQUIRE(eventually([&] { return rec.count(type::leadership) >= 2; }));
    CHECK(rec.count(type::leadership) == 2);
    auto ceased = rec.wait_for([](const engine_event& e) {
      return e.kind == type::leadership && !e.leading;
    });
    REQUIRE(ceased.has_value());
    CHECK(contains(ceased->message, "no longer the maintenance leader"));
  }

  TEST_CASE("a row taken over by another node is reported as a lost lease") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    std::atomic<bool> started{false}, stopped{false};
    durable::executor exec{db, observed(rec)};
    auto task = exec.task<int, int>({.id = "held", .timeout = 20s},
                                    [&](durable::task_context& ctx, int x) {
                                      started = true;
                                      std::atomic<bool> never{false};
                                      engine_test::block_until(never, ctx);
                                      stopped = ctx.stop_requested();
                                      return x;
                                    });
    auto h = exec.enqueue(task, 1);
    REQUIRE(eventually([&] { return started.load(); }));
    // Another node claims the row, as if this node's lease had run out.
    auto row = exec.get(h.execution_id());
    auto next = row;
    durable::store_rules::claim(next, db->now(), "de_other_node", 60'000ms);
    transition steal;
    steal.next = next;
    steal.expected_version = row.version;
    REQUIRE(db->apply({steal})[0].status == durable::write_status::applied);
    auto lost = rec.wait_for(type::lease_lost, h.execution_id());
    REQUIRE(lost.has_value());
    CHECK(contains(lost->message, "taken over by another node"));
    CHECK(eventually([&] { return stopped.load(); }));
  }

  TEST_CASE("a write that loses to another writer is reported as a conflict") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->refuse(completes("plus_one"), durable::write_status::conflict);
    durable::executor exec{db, observed(rec)};
    auto task = plus_one(exec);
    auto h = exec.enqueue(task, 1);
    auto c = rec.wait_for(type::conflict, h.execution_id());
    REQUIRE(c.has_value());
    CHECK(c->operation == "apply");
    CHECK(contains(c->message, "lost to another writer"));
    // The row is handed back by the next renewal's sweep, and runs again.
    db->refuse(nullptr);
    CHECK(engine_test::await(h).output == 2);
  }

  TEST_CASE("a corrupt row a store announces is reported") {
    recorder rec;
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    durable::executor exec{db, observed(rec)};
    durable::store_event found;
    found.kind = durable::store_event::type::corrupt;
    found.execution_id = "te_bad";
    found.detail = "column children: broken JSON; marked failed";
    db->announce({found});
    auto e = rec.wait_for(type::corrupt_row, "te_bad");
    REQUIRE(e.has_value());
    CHECK(e->level == engine_event::severity::error);
    CHECK(e->failure == store_failure::corrupt);
    CHECK(contains(e->message, "broken JSON"));
  }

  TEST_CASE("an observer that throws does not stop the engine") {
    auto o = test_options();
    o.observer = [](const engine_event&) { throw std::runtime_error("no"); };
    auto db = std::make_shared<faulty_store>(durable::test::make_store());
    db->fail_applies(completes("plus_one"), fault::unavailable);
    durable::executor exec{db, o};
    auto task = plus_one(exec);
    CHECK(engine_test::await(exec.enqueue(task, 4)).output == 5);
    CHECK(db->faults() == 1);
  }

} // TEST_SUITE
