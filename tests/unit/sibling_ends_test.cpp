#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/actors/sibling_ends.hpp"
#include "support/sibling_batches.hpp"

namespace durable::test {

namespace {

using actors::sibling_ends;
using namespace sibling_batches;

void apply(sibling_ends& s, const std::vector<transition>& batch,
           std::int64_t at = t0) {
  s.apply(s.read(batch), all_applied(batch.size()), at);
}

} // namespace

TEST_SUITE("actors.sibling_ends") {
  TEST_CASE("a child's end waits while its siblings stored here run") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 3)});
    CHECK(s.awaits_more({end_of("p1_c0", "p1")}, t0));
    CHECK(s.awaits_more({end_of("p1_c0", "p1"), end_of("p1_c1", "p1")}, t0));
    CHECK_FALSE(s.awaits_more({end_of("p1_c0", "p1"), end_of("p1_c1", "p1"),
                               end_of("p1_c2", "p1")},
                              t0));
  }

  TEST_CASE("applied ends count down and the last one closes the entry") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 3)});
    apply(s, {end_of("p1_c0", "p1")});
    CHECK(s.awaits_more({end_of("p1_c1", "p1")}, t0));
    CHECK_FALSE(
      s.awaits_more({end_of("p1_c1", "p1"), end_of("p1_c2", "p1")}, t0));
    apply(s, {end_of("p1_c1", "p1"), end_of("p1_c2", "p1")});
    CHECK(s.size() == 0);
  }

  TEST_CASE("ends that did not apply do not count down") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 2)});
    std::vector<transition> batch{end_of("p1_c0", "p1")};
    s.apply(s.read(batch), {write_outcome{write_status::conflict, {}}}, t0);
    CHECK(s.awaits_more({end_of("p1_c1", "p1")}, t0));
  }

  TEST_CASE("a retry is no end, and a finalize task's end is no child's") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 2)});
    apply(s, {end_of("p1_c0", "p1", execution_status::ready)});
    CHECK(s.awaits_more({end_of("p1_c1", "p1")}, t0));
    transition fin;
    fin.next = child("p1_f", "p1", execution_status::completed, true);
    CHECK_FALSE(s.awaits_more({fin}, t0));
  }

  TEST_CASE("the parent's own end closes its entry") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 4)});
    transition parent_end;
    parent_end.next = row("p1", execution_status::failed);
    apply(s, {parent_end});
    CHECK(s.size() == 0);
    CHECK_FALSE(s.awaits_more({end_of("p1_c0", "p1")}, t0));
  }

  TEST_CASE("only children claimed by this node, at least two, open an entry") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 1), spawn("p2", 3, "node_b")});
    CHECK(s.size() == 0);
    auto ready = spawn("p3", 3);
    for (auto& c : ready.children) {
      c.status = execution_status::ready;
      c.owner.reset();
    }
    apply(s, {ready});
    CHECK(s.size() == 0);
    CHECK_FALSE(s.awaits_more({end_of("p2_c0", "p2")}, t0));
  }

  TEST_CASE("a write that did not apply opens no entry") {
    sibling_ends s{me};
    std::vector<transition> batch{spawn("p1", 3)};
    s.apply(s.read(batch), {write_outcome{write_status::rejected, {}}}, t0);
    CHECK(s.size() == 0);
  }

  TEST_CASE("an entry older than fresh_for no longer holds a batch") {
    sibling_ends s{me};
    apply(s, {spawn("p1", 3)});
    CHECK(s.awaits_more({end_of("p1_c0", "p1")}, t0 + sibling_ends::fresh_for));
    CHECK_FALSE(
      s.awaits_more({end_of("p1_c0", "p1")}, t0 + sibling_ends::fresh_for + 1));
  }

  TEST_CASE("a full table makes room by dropping stale entries only") {
    sibling_ends s{me};
    for (std::size_t i = 0; i < sibling_ends::max_entries; ++i)
      apply(s, {spawn("old" + std::to_string(i), 2)});
    REQUIRE(s.size() == sibling_ends::max_entries);
    apply(s, {spawn("new1", 2)}, t0 + 1);
    CHECK(s.size() == sibling_ends::max_entries); // all fresh: not tracked
    CHECK_FALSE(s.awaits_more({end_of("new1_c0", "new1")}, t0 + 1));
    const auto later = t0 + sibling_ends::fresh_for + 1;
    apply(s, {spawn("new2", 2)}, later);
    CHECK(s.size() == 1);
    CHECK(s.awaits_more({end_of("new2_c0", "new2")}, later));
  }
}

} // namespace durable::test
