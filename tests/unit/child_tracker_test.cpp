#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/actors/child_tracker.hpp"

namespace durable::test {

namespace {

using actors::child_tracker;
using activity = child_tracker::activity;
using verdict = child_tracker::verdict;

const timestamp now = from_micros(1'700'000'000'000'000);

actors::finished_row finished(const std::string& id, std::string output) {
  task_options o;
  o.id = "t";
  auto r = make_execution("t", task_kind::task, o, "null", now);
  r.id = id;
  r.status = execution_status::completed;
  r.output = std::move(output);
  return std::make_shared<const execution_record>(std::move(r));
}

std::vector<execution_ref> refs(std::initializer_list<const char*> ids) {
  std::vector<execution_ref> out;
  for (const auto* id : ids) {
    execution_ref ref;
    ref.execution_id = id;
    out.push_back(ref);
  }
  return out;
}

} // namespace

TEST_SUITE("actors.child_tracker") {
  TEST_CASE("an end announced while the children's write is in flight is not "
            "awaited again") {
    child_tracker t;
    CHECK(t.on_announced("c1", nullptr, activity::writing)
          == verdict::keep_waiting);
    CHECK(t.on_write_applied(refs({"c1", "c2"})) == verdict::keep_waiting);
    CHECK(t.remaining() == 1);
    CHECK(t.on_announced("c2", nullptr, activity::waiting) == verdict::check);
  }

  TEST_CASE("every end announced during the write means a check at once") {
    child_tracker t;
    t.on_announced("c1", nullptr, activity::writing);
    t.on_announced("c2", nullptr, activity::writing);
    CHECK(t.on_write_applied(refs({"c1", "c2"})) == verdict::check);
  }

  TEST_CASE("announcements during one write are not carried into the next") {
    // A sequence: step 0's write applied with step 0 announced; the next
    // write (step 1) must wait for step 1, whatever was announced before.
    child_tracker t;
    t.on_announced("s0", nullptr, activity::writing);
    CHECK(t.on_write_applied(std::string{"s0"}) == verdict::check);
    CHECK(t.on_write_applied(std::string{"s1"}) == verdict::keep_waiting);
    CHECK(t.remaining() == 1);
  }

  TEST_CASE("a resync during a write means a check after it") {
    child_tracker t;
    CHECK(t.on_resync(activity::writing) == verdict::keep_waiting);
    // Nothing was announced, yet announcements may have been lost.
    CHECK(t.on_write_applied(refs({"c1", "c2"})) == verdict::check);
    // Only once: the next write counts on announcements again.
    CHECK(t.on_write_applied(refs({"c3"})) == verdict::keep_waiting);
  }

  TEST_CASE("a resync while waiting checks at once; while busy it is moot") {
    child_tracker t;
    CHECK(t.on_resync(activity::waiting) == verdict::check);
    CHECK(t.on_resync(activity::busy) == verdict::keep_waiting);
    CHECK(t.on_write_applied(refs({"c1"})) == verdict::keep_waiting);
  }

  TEST_CASE("ends are counted down while waiting") {
    child_tracker t;
    CHECK(t.on_write_applied(refs({"c1", "c2", "c3"}))
          == verdict::keep_waiting);
    CHECK(t.on_announced("c1", nullptr, activity::waiting)
          == verdict::keep_waiting);
    CHECK(t.on_announced("c2", nullptr, activity::waiting)
          == verdict::keep_waiting);
    CHECK(t.on_announced("c3", nullptr, activity::waiting) == verdict::check);
  }

  TEST_CASE("an end announced while a read is in flight is not awaited again") {
    child_tracker t;
    t.read_started();
    CHECK(t.reading());
    // The read may have seen c1 unfinished: its end must not be waited for.
    CHECK(t.on_announced("c1", nullptr, activity::waiting)
          == verdict::keep_waiting);
    t.read_returned();
    CHECK_FALSE(t.reading());
    CHECK(t.on_unfinished({"c1"}) == verdict::check);
    CHECK(t.on_unfinished({"c1", "c2"}) == verdict::keep_waiting);
    CHECK(t.remaining() == 1);
    t.read_handled();
    // Dropped with the read: a later read that finds c1 unfinished waits.
    CHECK(t.on_unfinished({"c1"}) == verdict::keep_waiting);
  }

  TEST_CASE("a failed read keeps nothing it would have discounted") {
    child_tracker t;
    t.read_started();
    t.on_announced("c1", nullptr, activity::waiting);
    t.read_failed();
    CHECK_FALSE(t.reading());
    CHECK(t.on_unfinished({"c1"}) == verdict::keep_waiting);
  }

  TEST_CASE("rows announced with their ends replace a read once all are here") {
    child_tracker t;
    auto children = refs({"c1", "c2"});
    t.on_announced("c2", finished("c2", "2"), activity::busy);
    CHECK_FALSE(t.take_all_finished(children));
    t.on_announced("c1", finished("c1", "1"), activity::busy);
    auto rows = t.take_all_finished(children);
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].id == "c1"); // in the children's order
    CHECK((*rows)[1].output == "2");
    CHECK_FALSE(t.take_all_finished(children)); // forgotten once taken
  }

  TEST_CASE("one announced row is taken once") {
    child_tracker t;
    CHECK_FALSE(t.take_finished("fin"));
    t.on_announced("fin", finished("fin", "\"done\""), activity::writing);
    auto row = t.take_finished("fin");
    REQUIRE(row);
    CHECK(row->output == "\"done\"");
    CHECK_FALSE(t.take_finished("fin"));
  }

  TEST_CASE("an end announced while busy is kept as a row, not counted") {
    child_tracker t;
    CHECK(t.on_announced("c1", finished("c1", "1"), activity::busy)
          == verdict::keep_waiting);
    // Not discounted from the next write's count: only a write's own
    // in-flight window does that.
    CHECK(t.on_write_applied(refs({"c1"})) == verdict::keep_waiting);
    CHECK(t.take_finished("c1"));
  }

  TEST_CASE("no children means no rows to take") {
    child_tracker t;
    CHECK_FALSE(t.take_all_finished({}));
  }

} // TEST_SUITE

} // namespace durable::test
