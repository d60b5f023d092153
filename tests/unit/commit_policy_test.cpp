#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/actors/commit_policy.hpp"
#include "support/sibling_batches.hpp"

namespace durable::test {

namespace {

using namespace sibling_batches;
using actors::commit_policy;

/// A last commit slow enough that the hold budget is max_hold.
constexpr std::int64_t slow_commit = 4 * actors::max_hold;

/// Commits `batch` through `p`, every write applied.
void commit(commit_policy& p, const std::vector<transition>& batch) {
  p.committing(batch);
  p.committed(all_applied(batch.size()), t0);
}

} // namespace

TEST_SUITE("actors.commit_policy") {
  TEST_CASE("commit_at_once never holds") {
    auto p = actors::commit_at_once();
    commit(*p, {spawn("p1", 3)});
    CHECK_FALSE(p->hold({end_of("p1_c0", "p1")}, 0, slow_commit, t0));
  }

  TEST_CASE("hold_for_siblings holds a child's end while its siblings run "
            "here, until the last one joins") {
    auto p = actors::hold_for_siblings(me);
    CHECK_FALSE(p->hold({end_of("p1_c0", "p1")}, 0, slow_commit, t0));
    commit(*p, {spawn("p1", 3)});
    CHECK(p->hold({end_of("p1_c0", "p1")}, 0, slow_commit, t0));
    CHECK_FALSE(p->hold({end_of("p1_c0", "p1"), end_of("p1_c1", "p1"),
                         end_of("p1_c2", "p1")},
                        0, slow_commit, t0));
  }

  TEST_CASE("hold_for_siblings counts only the ends that committed") {
    auto p = actors::hold_for_siblings(me);
    commit(*p, {spawn("p1", 2)});
    std::vector<transition> first{end_of("p1_c0", "p1")};
    p->committing(first);
    p->committed({write_outcome{write_status::conflict, {}}}, t0);
    CHECK(p->hold({end_of("p1_c1", "p1")}, 0, slow_commit, t0));
    commit(*p, first);
    CHECK_FALSE(p->hold({end_of("p1_c1", "p1")}, 0, slow_commit, t0));
  }

  TEST_CASE("hold_for_siblings holds within a quarter of the last commit") {
    auto p = actors::hold_for_siblings(me);
    commit(*p, {spawn("p1", 3)});
    const std::vector<transition> batch{end_of("p1_c0", "p1")};
    const std::int64_t nap = std::chrono::nanoseconds{commit_policy::nap}
                               .count();
    // A commit of 400 µs allows 100 µs: three more naps after 25 µs.
    CHECK(p->hold(batch, nap, 400'000, t0));
    CHECK_FALSE(p->hold(batch, 100'000 - nap + 1, 400'000, t0));
    // A fast store's commit allows no nap at all.
    CHECK_FALSE(p->hold(batch, 0, 4 * nap - 1, t0));
    // Never past max_hold, however slow the last commit.
    CHECK_FALSE(p->hold(batch, actors::max_hold, 100 * actors::max_hold, t0));
  }

  TEST_CASE("hold_for_siblings never holds a large batch") {
    auto p = actors::hold_for_siblings(me);
    commit(*p, {spawn("p1", 3)});
    std::vector<transition> batch{end_of("p1_c0", "p1")};
    while (batch.size() < actors::max_held_batch)
      batch.push_back(end_of("other_" + std::to_string(batch.size()), "q"));
    CHECK_FALSE(p->hold(batch, 0, slow_commit, t0));
    batch.pop_back();
    CHECK(p->hold(batch, 0, slow_commit, t0));
  }
}

} // namespace durable::test
