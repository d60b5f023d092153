// Which storage actor a transition goes to (actors/write_lanes.hpp).
#include <doctest/doctest.h>

#include <memory>

#include <caf/all.hpp>

#include "durable/actors/write_lanes.hpp"

using durable::actors::write_lanes;

namespace {

/// Lanes whose actors do nothing: only their handles are compared.
struct lanes_fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  write_lanes lanes;

  explicit lanes_fixture(std::size_t count) {
    cfg.set("scheduler.max-threads", 1);
    sys = std::make_unique<caf::actor_system>(cfg);
    lanes.open(count);
    for (std::size_t i = 0; i < count; ++i)
      lanes[i] = sys->spawn([]() -> caf::behavior {
        return {[](int) {}};
      });
  }

  ~lanes_fixture() {
    for (std::size_t i = 0; i < lanes.size(); ++i)
      caf::anon_send_exit(lanes[i], caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("write lanes: one lane takes every write, busy or not") {
  lanes_fixture f{1};
  CHECK(f.lanes.size() == 1);
  CHECK(f.lanes.pick() == f.lanes[0]);
  f.lanes.begin(0);
  CHECK(f.lanes.pick() == f.lanes[0]);
  f.lanes.end(0);
  CHECK(f.lanes.pick() == f.lanes[0]);
}

TEST_CASE("write lanes: zero lanes asked for make one") {
  lanes_fixture f{0};
  CHECK(f.lanes.size() == 1);
}

TEST_CASE("write lanes: an idle lane first, the first one while all are") {
  lanes_fixture f{3};
  CHECK(f.lanes.pick() == f.lanes[0]);
  f.lanes.begin(0);
  CHECK(f.lanes.pick() == f.lanes[1]);
  f.lanes.begin(1);
  CHECK(f.lanes.pick() == f.lanes[2]);
  f.lanes.end(0);
  CHECK(f.lanes.pick() == f.lanes[0]);
}

TEST_CASE("write lanes: while every lane commits, the one that began first "
          "gathers the next batch") {
  lanes_fixture f{3};
  f.lanes.begin(2);
  f.lanes.begin(0);
  f.lanes.begin(1);
  CHECK(f.lanes.pick() == f.lanes[2]);
  f.lanes.end(2);
  f.lanes.begin(2); // now the latest
  CHECK(f.lanes.pick() == f.lanes[0]);
  f.lanes.end(0);
  f.lanes.begin(0);
  CHECK(f.lanes.pick() == f.lanes[1]);
}
