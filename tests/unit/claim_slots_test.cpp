// The dispatcher's bookkeeping without an actor: its slots, the split of
// its tasks by kind, the claim rounds and which new rows it takes on
// insert.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/actors/claim_slots.hpp"
#include "durable/actors/local_take.hpp"
#include "durable/actors/task_registry.hpp"

using namespace std::chrono_literals;

namespace durable::test {

namespace {

using actors::claim_rounds;
using actors::slot_ledger;
using actors::task_kinds;
using actors::task_registry;

const timestamp now = from_micros(1'700'000'000'000'000);

task_definition def(std::string id, bool may_block,
                    task_kind kind = task_kind::task) {
  task_definition d;
  d.kind = kind;
  d.options.id = std::move(id);
  d.options.timeout = 10s;
  d.options.may_block = may_block;
  if (kind == task_kind::sequence)
    d.steps = {"quick"};
  else
    d.run = [](task_context&, const std::string& in) { return in; };
  return d;
}

/// "slow" blocks, "quick" does not, "seq" is a sequence (never blocks).
task_kinds mixed_kinds() {
  task_registry tasks;
  tasks.add(def("slow", true));
  tasks.add(def("quick", false));
  tasks.add(def("seq", true, task_kind::sequence));
  task_kinds kinds;
  kinds.refresh(tasks);
  return kinds;
}

execution_record ready_row(std::string task_id) {
  task_options o;
  o.id = task_id;
  o.timeout = 10s;
  return make_execution(std::move(task_id), task_kind::task, o, "null", now);
}

} // namespace

TEST_SUITE("actors.claim_slots") {
  TEST_CASE("running, reserved and claiming rows share the slots") {
    slot_ledger s{10, 2};
    CHECK(s.free() == 10);
    s.hold(true);
    s.reserve(2, 1);
    s.begin_claim(3, false);
    CHECK(s.free() == 4);
    CHECK(s.blocking_room() == 0);
    CHECK(s.blocking_room_for_take() == 0);
    s.end_claim();
    s.unreserve(2, 1);
    CHECK(s.free() == 9);
    CHECK(s.blocking_room() == 1);
    CHECK_FALSE(s.idle());
    s.release(true);
    CHECK(s.idle());
    CHECK(s.blocking_held() == 0);
    CHECK(s.blocking_room() == 2);
  }

  TEST_CASE("a blocking claim in flight takes blocking room, not take room") {
    slot_ledger s{10, 2};
    s.begin_claim(2, true);
    CHECK(s.blocking_room() == 0);
    CHECK(s.blocking_room_for_take() == 2);
    s.end_claim();
    CHECK(s.blocking_room() == 2);
  }

  TEST_CASE("the free slots never go below zero") {
    slot_ledger s{2, 1};
    s.hold(false);
    s.reserve(1, 0);
    s.begin_claim(5, false); // a claim never asks for more, but may overlap
    CHECK(s.free() == 0);
  }

  TEST_CASE("a finalize task taken here turns its reservation into a body") {
    slot_ledger s{4, 1};
    s.reserve(1, 1);
    s.unreserve(1, 1);
    s.hold(true);
    CHECK(s.running() == 1);
    CHECK(s.blocking_held() == 1);
    CHECK(s.blocking_room_for_take() == 0);
    s.release(true);
    CHECK(s.blocking_room_for_take() == 1);
  }

  TEST_CASE("only tasks and parents that may block are blocking kinds") {
    auto kinds = mixed_kinds();
    CHECK(kinds.all().size() == 3);
    CHECK(kinds.blocking() == std::vector<std::string>{"slow"});
    CHECK(kinds.inline_tasks() == std::vector<std::string>{"quick", "seq"});
    CHECK(kinds.is_blocking("slow"));
    CHECK_FALSE(kinds.is_blocking("seq"));
    CHECK(kinds.runs("seq"));
    CHECK_FALSE(kinds.runs("other"));
  }

  TEST_CASE("task kinds are read again only when tasks were added") {
    task_registry tasks;
    tasks.add(def("quick", false));
    task_kinds kinds;
    kinds.refresh(tasks);
    CHECK(kinds.all().size() == 1);
    tasks.add(def("slow", true));
    kinds.refresh(tasks);
    CHECK(kinds.all().size() == 2);
    CHECK(kinds.is_blocking("slow"));
  }

  TEST_CASE("a node with both kinds claims each in turn, blocking within its "
            "room") {
    auto kinds = mixed_kinds();
    claim_rounds rounds;
    // Round one starts with the inline kind.
    auto a = rounds.next(kinds, 50, 100, 3);
    REQUIRE(a.claim);
    CHECK(a.round_start);
    CHECK_FALSE(a.blocking);
    CHECK(*a.task_ids == kinds.inline_tasks());
    CHECK(a.limit == 50);
    CHECK(rounds.second_kind_due());
    auto b = rounds.next(kinds, 50, 100, 3);
    REQUIRE(b.claim);
    CHECK_FALSE(b.round_start);
    CHECK(b.blocking);
    CHECK(*b.task_ids == kinds.blocking());
    CHECK(b.limit == 3); // the blocking room
    CHECK_FALSE(rounds.second_kind_due());
    // Round two starts with the blocking kind.
    auto c = rounds.next(kinds, 50, 10, 3);
    CHECK(c.blocking);
    CHECK(c.round_start);
    auto d = rounds.next(kinds, 50, 10, 3);
    CHECK_FALSE(d.blocking);
    CHECK(d.limit == 10); // the batch
  }

  TEST_CASE("without blocking room a round claims inline work only") {
    auto kinds = mixed_kinds();
    claim_rounds rounds;
    rounds.next(kinds, 50, 100, 0);               // inline half
    auto second = rounds.next(kinds, 50, 100, 0); // the blocking half
    CHECK_FALSE(second.claim);
    CHECK(second.blocking_waits);
    // The next round would start with the blocking kind: its inline half
    // runs at once and ends the round.
    auto third = rounds.next(kinds, 50, 100, 0);
    REQUIRE(third.claim);
    CHECK_FALSE(third.blocking);
    CHECK(third.round_start);
    CHECK_FALSE(rounds.second_kind_due());
    CHECK(third.blocking_waits);
  }

  TEST_CASE("a node of blocking tasks only claims nothing without room") {
    task_registry tasks;
    tasks.add(def("slow", true));
    task_kinds kinds;
    kinds.refresh(tasks);
    claim_rounds rounds;
    auto none = rounds.next(kinds, 50, 100, 0);
    CHECK_FALSE(none.claim);
    CHECK(none.blocking_waits);
    auto some = rounds.next(kinds, 50, 100, 2);
    REQUIRE(some.claim);
    CHECK(some.blocking);
    CHECK(some.limit == 2);
    CHECK_FALSE(some.blocking_waits);
  }

  TEST_CASE("new rows are taken within the room, blocking ones within theirs") {
    auto kinds = mixed_kinds();
    std::vector<execution_record> rows{ready_row("slow"), ready_row("slow"),
                                       ready_row("other"), ready_row("quick"),
                                       ready_row("quick")};
    auto later = ready_row("quick");
    later.start_at = now + 1s; // not due
    rows.push_back(later);
    const auto before = rows;
    auto taken = actors::pick_local_claims(rows, kinds,
                                           {3, 1, now, "node_a", 600s});
    CHECK(taken.positions == std::vector<std::size_t>{0, 3, 4});
    CHECK(taken.blocking == 1);
    REQUIRE(taken.rows.size() == 3);
    for (auto i : taken.positions) {
      CHECK(rows[i].status == execution_status::running);
      CHECK(rows[i].owner == "node_a");
      CHECK(rows[i].lease_expires_at == now + 600s);
    }
    CHECK(taken.rows[1].id == rows[3].id);
    // What it does not take is left as it was.
    for (std::size_t i : {1, 2, 5})
      CHECK(rows[i].status == before[i].status);
    CHECK_FALSE(rows[1].owner.has_value());
  }

  TEST_CASE("no room takes nothing") {
    auto kinds = mixed_kinds();
    std::vector<execution_record> rows{ready_row("quick")};
    CHECK(actors::pick_local_claims(rows, kinds, {0, 5, now, "node_a", 600s})
            .empty());
    CHECK(rows[0].status == execution_status::ready);
  }

} // TEST_SUITE

} // namespace durable::test
