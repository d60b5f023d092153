#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/actors/waiter_registry.hpp"

namespace durable::test {

namespace {

using actors::wait_end;
using actors::waiter_registry;

const timestamp now = from_micros(1'700'000'000'000'000);

execution_record row(std::string id, execution_status status) {
  task_options o;
  o.id = "t";
  auto r = make_execution("t", task_kind::task, o, "null", now);
  r.id = std::move(id);
  r.status = status;
  return r;
}

/// What each wait (by name) got.
struct ends {
  std::map<std::string, std::vector<wait_end>> got;

  waiter_registry::deliver_fn to(std::string name) {
    return [this, name](wait_end e) { got[name].push_back(std::move(e)); };
  }

  std::size_t count(const std::string& name) const {
    auto i = got.find(name);
    return i == got.end() ? 0 : i->second.size();
  }

  wait_end::kind kind(const std::string& name) const {
    return got.at(name).at(0).what;
  }
};

} // namespace

TEST_SUITE("actors.waiter_registry") {
  TEST_CASE("a finished row ends every wait on it once") {
    ends e;
    waiter_registry reg;
    reg.add("x", e.to("a"));
    reg.add("x", e.to("b"));
    reg.add("y", e.to("c"));
    CHECK(reg.size() == 3);
    CHECK(reg.watched() == 2);
    CHECK(reg.resolve("x", row("x", execution_status::running)) == 0);
    CHECK(reg.size() == 3);
    CHECK(reg.resolve("x", row("x", execution_status::completed)) == 2);
    CHECK(e.kind("a") == wait_end::kind::finished);
    REQUIRE(e.got["b"][0].row.has_value());
    CHECK(e.got["b"][0].row->id == "x");
    CHECK_FALSE(reg.watches("x"));
    CHECK(reg.size() == 1);
    // A second announcement of the same end finds nobody.
    CHECK(reg.resolve("x", row("x", execution_status::completed)) == 0);
    CHECK(e.count("a") == 1);
    CHECK(e.count("c") == 0);
  }

  TEST_CASE("a missing row ends its waits as not found") {
    ends e;
    waiter_registry reg;
    reg.add("x", e.to("a"));
    CHECK(reg.resolve("x", std::nullopt) == 1);
    CHECK(e.kind("a") == wait_end::kind::not_found);
    CHECK(reg.empty());
  }

  TEST_CASE("a timeout ends one wait and leaves the others of its id") {
    ends e;
    std::vector<std::uint64_t> cancelled;
    waiter_registry reg{[&](std::uint64_t t) { cancelled.push_back(t); }};
    auto a = reg.add("x", e.to("a"));
    auto b = reg.add("x", e.to("b"));
    reg.set_timer("x", a, 11);
    reg.set_timer("x", b, 12);
    CHECK(reg.expire("x", a));
    CHECK_FALSE(reg.expire("x", a));
    CHECK(e.kind("a") == wait_end::kind::timed_out);
    // The timer that fired is not cancelled; the other wait's is once it
    // ends otherwise.
    CHECK(cancelled.empty());
    CHECK(reg.watches("x"));
    reg.resolve("x", row("x", execution_status::failed));
    CHECK(e.kind("b") == wait_end::kind::finished);
    CHECK(cancelled == std::vector<std::uint64_t>{12});
    CHECK(reg.empty());
  }

  TEST_CASE("remove() forgets a wait without ending it") {
    ends e;
    std::vector<std::uint64_t> cancelled;
    waiter_registry reg{[&](std::uint64_t t) { cancelled.push_back(t); }};
    auto a = reg.add("x", e.to("a"));
    reg.set_timer("x", a, 7);
    CHECK(reg.remove("x", a));
    CHECK_FALSE(reg.remove("x", a));
    CHECK(e.count("a") == 0);
    CHECK(cancelled == std::vector<std::uint64_t>{7});
    CHECK(reg.empty());
    CHECK(reg.watched() == 0);
  }

  TEST_CASE("a store failure ends the waits of its id with the message") {
    ends e;
    waiter_registry reg;
    reg.add("x", e.to("a"));
    reg.add("y", e.to("b"));
    CHECK(reg.fail("x", "store unavailable") == 1);
    CHECK(e.kind("a") == wait_end::kind::failed);
    CHECK(e.got["a"][0].message == "store unavailable");
    CHECK(reg.size() == 1);
  }

  TEST_CASE("shutdown ends every wait and cancels its timer") {
    ends e;
    std::vector<std::uint64_t> cancelled;
    waiter_registry reg{[&](std::uint64_t t) { cancelled.push_back(t); }};
    auto a = reg.add("x", e.to("a"));
    reg.set_timer("x", a, 5);
    reg.add("x", e.to("b"));
    reg.add("y", e.to("c"));
    CHECK(reg.shut_down() == 3);
    for (auto name : {"a", "b", "c"}) {
      CHECK(e.count(name) == 1);
      CHECK(e.kind(name) == wait_end::kind::shut_down);
    }
    CHECK(cancelled == std::vector<std::uint64_t>{5});
    CHECK(reg.empty());
    CHECK(reg.shut_down() == 0);
  }

  TEST_CASE("ticks run only while someone waits") {
    ends e;
    waiter_registry reg;
    CHECK_FALSE(reg.arm_recheck());
    auto a = reg.add("x", e.to("a"));
    CHECK(reg.arm_recheck());
    // One tick pending: adding more waits schedules no second one.
    reg.add("y", e.to("b"));
    CHECK_FALSE(reg.arm_recheck());
    auto plan = reg.recheck_tick(10);
    CHECK(plan.again);
    CHECK(plan.ids.size() == 2);
    reg.recheck_done();
    reg.remove("x", a);
    reg.resolve("y", std::nullopt);
    plan = reg.recheck_tick(10);
    CHECK_FALSE(plan.again);
    CHECK(plan.ids.empty());
    // Idle until the next wait, which arms the ticks again.
    reg.add("z", e.to("c"));
    CHECK(reg.arm_recheck());
  }

  TEST_CASE("a tick names at most its limit and those read longest ago first") {
    ends e;
    waiter_registry reg;
    for (auto id : {"a", "b", "c", "d", "e"})
      reg.add(id, e.to(id));
    std::map<std::string, int> reads;
    for (int tick = 0; tick < 10; ++tick) {
      auto plan = reg.recheck_tick(2);
      REQUIRE(plan.again);
      REQUIRE(plan.ids.size() == 2);
      CHECK(plan.ids[0] != plan.ids[1]);
      for (auto& id : plan.ids)
        ++reads[id];
      reg.recheck_done();
    }
    // 20 reads over 5 ids: each is read every ceil(5 / 2) = 3 ticks at most,
    // so evenly.
    for (auto id : {"a", "b", "c", "d", "e"})
      CHECK(reads[id] == 4);
  }

  TEST_CASE("a new wait is read at the next tick before older ones") {
    ends e;
    waiter_registry reg;
    for (auto id : {"a", "b", "c"})
      reg.add(id, e.to(id));
    reg.recheck_tick(3);
    reg.recheck_done();
    reg.add("new", e.to("new"));
    auto plan = reg.recheck_tick(1);
    REQUIRE(plan.ids.size() == 1);
    CHECK(plan.ids[0] == "new");
  }

  TEST_CASE("no second re-read starts while one is under way") {
    ends e;
    waiter_registry reg;
    reg.add("x", e.to("a"));
    auto first = reg.recheck_tick();
    CHECK(first.ids.size() == 1);
    auto second = reg.recheck_tick();
    CHECK(second.ids.empty());
    CHECK(second.again);
    reg.recheck_done();
    CHECK(reg.recheck_tick().ids.size() == 1);
  }

  TEST_CASE("a deliver function sees its wait already gone") {
    waiter_registry reg;
    std::size_t seen_size = 99;
    bool seen_watched = true;
    reg.add("x", [&](wait_end) {
      seen_size = reg.size();
      seen_watched = reg.watches("x");
    });
    reg.resolve("x", row("x", execution_status::completed));
    CHECK(seen_size == 0);
    CHECK_FALSE(seen_watched);
  }
}

} // namespace durable::test
