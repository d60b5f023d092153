// The node registry (node_registry.hpp) on every store: reports, the list
// of nodes, finished counts per minute, and what old entries become.
#include "durable/error.hpp"
#include "durable/node_registry.hpp"
#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;

namespace {

node_report report_of(std::string incarnation, std::string name,
                      timestamp started, status_counts finished = {}) {
  node_report r;
  r.node.incarnation = std::move(incarnation);
  r.node.name = std::move(name);
  r.node.version = "0.1.0";
  r.node.started_at = started;
  r.node.running = 3;
  r.node.slots = 8;
  r.finished = std::move(finished);
  return r;
}

} // namespace

TEST_SUITE("storage.conformance.registry") {
  DURABLE_CONFORMANCE_CASE("a node report is listed with the store's time") {
    fixture f{Backend::make};
    CHECK(f.store->nodes().empty());
    const auto start = f.clock.now();
    auto a = report_of("de_a", "alpha", start);
    a.node.leader = true;
    a.node.heartbeat_at = start - 1h; // ignored: the store stamps its own
    f.store->report_node(a);
    f.clock.advance(1s);
    f.store->report_node(report_of("de_b", "beta", start));
    f.clock.advance(1s);
    // A second start of alpha: newest start first within a name.
    f.store->report_node(report_of("de_a2", "alpha", start + 2s));
    auto nodes = f.store->nodes();
    REQUIRE(nodes.size() == 3);
    CHECK(nodes[0].incarnation == "de_a2");
    CHECK(nodes[1].incarnation == "de_a");
    CHECK(nodes[2].incarnation == "de_b");
    CHECK(nodes[1].name == "alpha");
    CHECK(nodes[1].version == "0.1.0");
    CHECK(nodes[1].started_at == start);
    CHECK(nodes[1].heartbeat_at == start);
    CHECK(nodes[1].running == 3);
    CHECK(nodes[1].slots == 8);
    CHECK(nodes[1].leader);
    CHECK_FALSE(nodes[2].leader);
    CHECK(nodes[1].state == node_state::running);
    // A later report replaces the entry.
    f.clock.advance(1s);
    auto again = report_of("de_a", "alpha", start);
    again.node.running = 0;
    again.node.state = node_state::stopped;
    f.store->report_node(again);
    nodes = f.store->nodes();
    REQUIRE(nodes.size() == 3);
    CHECK(nodes[1].heartbeat_at == start + 3s);
    CHECK(nodes[1].running == 0);
    CHECK_FALSE(nodes[1].leader);
    CHECK(nodes[1].state == node_state::stopped);
  }

  DURABLE_CONFORMANCE_CASE("finished counts add up per minute across nodes") {
    fixture f{Backend::make};
    const auto t0 = minute_of(f.clock.now()) + 1min;
    f.clock.set(t0 + 5s);
    f.store->report_node(report_of("de_a", "a", t0,
                                   {{execution_status::completed, 10},
                                    {execution_status::failed, 1}}));
    f.store->report_node(
      report_of("de_b", "b", t0, {{execution_status::completed, 5}}));
    f.clock.set(t0 + 50s);
    f.store->report_node(
      report_of("de_a", "a", t0, {{execution_status::completed, 2}}));
    f.clock.set(t0 + 2min + 1s);
    f.store->report_node(report_of("de_a", "a", t0,
                                   {{execution_status::cancelled, 4},
                                    {execution_status::timed_out, 0}}));
    auto counts = f.store->finished_by_minute(t0 - 1h, t0 + 1h);
    CHECK(counts
          == std::vector<finished_count>{
            {t0, execution_status::completed, 17},
            {t0, execution_status::failed, 1},
            {t0 + 2min, execution_status::cancelled, 4},
          });
    // [from, to): the range is by minute start.
    CHECK(f.store->finished_by_minute(t0 + 1min, t0 + 2min).empty());
    CHECK(f.store->finished_by_minute(t0 + 2min, t0 + 3min).size() == 1);
  }

  DURABLE_CONFORMANCE_CASE("old nodes and minutes are forgotten by the next "
                           "report") {
    fixture f{Backend::make};
    const auto t0 = minute_of(f.clock.now()) + 1min;
    f.clock.set(t0);
    f.store->report_node(
      report_of("de_gone", "gone", t0, {{execution_status::completed, 7}}));
    f.clock.set(t0 + node_registry_keep + 2min);
    f.store->report_node(
      report_of("de_here", "here", t0, {{execution_status::completed, 1}}));
    auto nodes = f.store->nodes();
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].incarnation == "de_here");
    CHECK(f.store->finished_by_minute(t0 - 1h, t0 + 1h).empty());
    CHECK(f.store->finished_by_minute(t0, f.clock.now() + 1min).size() == 1);
  }

  DURABLE_CONFORMANCE_CASE("a report without an incarnation or with an "
                           "unfinished status is refused whole") {
    fixture f{Backend::make};
    CHECK_THROWS_AS(f.store->report_node(report_of("", "x", f.clock.now())),
                    durable::error);
    CHECK_THROWS_WITH_AS(
      f.store->report_node(report_of("de_x", "x", f.clock.now(),
                                     {{execution_status::completed, 1},
                                      {execution_status::running, 1}})),
      doctest::Contains("running is not a final status"), durable::error);
    CHECK(f.store->nodes().empty());
    CHECK(f.store->finished_by_minute(f.clock.now() - 1h, f.clock.now() + 1h)
            .empty());
  }

} // TEST_SUITE
