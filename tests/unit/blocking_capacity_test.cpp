#include <doctest/doctest.h>

#include "durable/actors/blocking_capacity.hpp"

namespace durable::actors {

TEST_SUITE("actors.blocking_capacity") {
  TEST_CASE("held, reserved and claiming executions share the room") {
    blocking_capacity c{4};
    CHECK(c.room() == 4);
    c.hold();
    c.reserve(1);
    c.claiming(1);
    CHECK(c.room() == 1);
    CHECK(c.room_for_take() == 2); // a claim in flight may find nothing
    c.claiming(0);
    c.unreserve(1);
    c.hold(); // the reserved one was stored
    CHECK(c.room() == 2);
    CHECK(c.held() == 2);
  }

  TEST_CASE("the room never goes below zero") {
    blocking_capacity c{1};
    c.hold();
    c.reserve(3); // more than the room: a claim in flight may overlap
    CHECK(c.room() == 0);
    c.unreserve(3);
    c.release();
    CHECK(c.held() == 0);
    CHECK(c.room() == 1);
  }

// A slot freed twice is a bug that DURABLE_ASSERT stops where assertions
// are on (Debug, sanitizers); release builds keep the counts at zero.
#ifndef DURABLE_ASSERTIONS
  TEST_CASE("without assertions the counts never go below none") {
    blocking_capacity c{1};
    c.hold();
    c.reserve(1);
    c.unreserve(5);
    c.release();
    c.release();
    CHECK(c.held() == 0);
    CHECK(c.room() == 1);
  }
#endif

} // TEST_SUITE

} // namespace durable::actors
