#include <doctest/doctest.h>

#include "durable/actors/write_recovery.hpp"
#include "durable/transitions.hpp"

namespace durable::test {

namespace {

using namespace durable::actors;

const timestamp now = from_micros(1'700'000'000'000'000);

/// A running row owned by `owner` at version 3.
execution_record running(std::string owner = "node_a") {
  task_options o;
  o.id = "t";
  auto r = make_execution("t", task_kind::task, o, "null", now);
  r.status = execution_status::running;
  r.owner = std::move(owner);
  r.version = 3;
  return r;
}

} // namespace

TEST_SUITE("actors.write_recovery") {
  TEST_CASE("a row that carries the write says it committed") {
    auto t = transitions::complete(running(), "1",
                                   now + std::chrono::seconds{1});
    auto mark = write_mark::of(t);
    auto stored = t.next;
    stored.version = 4;
    CHECK(settle_write(mark, stored, "node_a") == read_back::applied);
    // The same version and status from another writer's clock: not ours.
    stored.updated_at = stored.updated_at + std::chrono::microseconds{1};
    CHECK(settle_write(mark, stored, "node_a") == read_back::moved_on);
  }

  TEST_CASE("a row still as the actor left it is handed back, if still ours") {
    auto row = running();
    auto mark = write_mark::of(transitions::complete(row, "1", now));
    CHECK(settle_write(mark, row, "node_a") == read_back::hand_back);
    CHECK(settle_write(mark, row, "node_b") == read_back::moved_on);
    CHECK(settle_write(mark, std::nullopt, "node_a") == read_back::moved_on);
    row.version = 5; // moved on by someone else
    CHECK(settle_write(mark, row, "node_a") == read_back::moved_on);
  }

  TEST_CASE("a refused write is recorded, then handed back, then left") {
    auto row = running();
    auto mark = write_mark::of(transitions::complete(row, "1", now));
    write_outcome out{write_status::refused, row, "22P05"};
    CHECK(on_refusal(mark, out, false, false) == after_refusal::record_failure);
    CHECK(on_refusal(mark, out, true, false) == after_refusal::hand_back);
    CHECK(on_refusal(mark, out, true, true) == after_refusal::give_up);
    out.current->version = 9;
    CHECK(on_refusal(mark, out, false, false) == after_refusal::moved_on);
    out.current.reset();
    CHECK(on_refusal(mark, out, false, false) == after_refusal::read_back);
  }

  TEST_CASE("read-backs of a silent store back off from 50 ms to 2 s") {
    CHECK(reread_delay(0) == millis{50});
    CHECK(reread_delay(1) == millis{100});
    CHECK(reread_delay(5) == millis{1600});
    CHECK(reread_delay(6) == millis{2000});
    CHECK(reread_delay(1000) == millis{2000});
  }

} // TEST_SUITE

} // namespace durable::test
