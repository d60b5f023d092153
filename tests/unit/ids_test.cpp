#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include <doctest/doctest.h>

#include "durable/ids.hpp"

namespace durable::test {

namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTUVWXYZabcdefg"
                                      "hjkmnpqrstuvwxyz";

bool in_alphabet(std::string_view s) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

} // namespace

TEST_SUITE("core.ids") {
  TEST_CASE("an execution id is te_ and 24 characters") {
    auto id = make_execution_id();
    CHECK(id.starts_with("te_"));
    CHECK_EQ(id.size(), 27);
    CHECK(in_alphabet(std::string_view{id}.substr(3)));
  }

  TEST_CASE("execution ids use 56 characters and never I L O i l o") {
    REQUIRE_EQ(alphabet.size(), 56);
    std::set<char> seen;
    for (int i = 0; i < 2000; ++i) {
      auto id = make_execution_id();
      seen.insert(id.begin() + 3, id.end());
    }
    for (char c : std::string_view{"ILOilo"})
      CHECK_EQ(seen.count(c), 0);
    CHECK_EQ(seen.size(), alphabet.size());
  }

  TEST_CASE("10000 execution ids are all different") {
    std::unordered_set<std::string> ids;
    for (int i = 0; i < 10'000; ++i)
      ids.insert(make_execution_id());
    CHECK_EQ(ids.size(), 10'000);
  }

  TEST_CASE("execution ids sort in the order they were made") {
    // Each id is made a few milliseconds after the previous one; random ids
    // would come out in this order once in 20! tries.
    std::vector<std::string> made;
    for (int i = 0; i < 20; ++i) {
      made.push_back(make_execution_id());
      std::this_thread::sleep_for(std::chrono::milliseconds{2});
    }
    auto sorted = made;
    std::sort(sorted.begin(), sorted.end());
    CHECK_EQ(sorted, made);
  }

  TEST_CASE("execution ids made in one millisecond differ past the time") {
    // The first 8 characters after te_ are the time; at most a few distinct
    // times occur in a tight loop, while the random rest always differs.
    std::set<std::string> times;
    std::set<std::string> rests;
    for (int i = 0; i < 100; ++i) {
      auto id = make_execution_id();
      times.insert(id.substr(3, 8));
      rests.insert(id.substr(11));
    }
    CHECK_LT(times.size(), 50);
    CHECK_EQ(rests.size(), 100);
  }

  TEST_CASE("is_execution_id accepts what make_execution_id makes") {
    for (int i = 0; i < 100; ++i)
      CHECK(is_execution_id(make_execution_id()));
    CHECK(is_execution_id("te_" + std::string(24, 'z')));
  }

  TEST_CASE("is_execution_id rejects ids of the wrong shape") {
    auto good = make_execution_id();
    std::vector<std::string> bad{
      "",
      "te_",
      good.substr(0, 26),
      good + "a",
      "de_" + good.substr(3),
      "TE_" + good.substr(3),
      "te-" + good.substr(3),
      "xte_" + good.substr(3, 23),
      "te_" + std::string(23, 'a') + "I",
      "te_" + std::string(23, 'a') + "l",
      "te_" + std::string(23, 'a') + "O",
      "te_" + std::string(23, 'a') + "-",
      "te_" + std::string(23, 'a') + " ",
      "te_" + std::string(23, 'a') + std::string(1, '\0'),
      make_incarnation_id(),
    };
    for (const auto& id : bad) {
      CAPTURE(id);
      CHECK_FALSE(is_execution_id(id));
    }
  }

  TEST_CASE("an incarnation id is de_ and 16 characters") {
    auto id = make_incarnation_id();
    CHECK(id.starts_with("de_"));
    CHECK_EQ(id.size(), 19);
    CHECK(in_alphabet(std::string_view{id}.substr(3)));
  }

  TEST_CASE("incarnation ids are all different") {
    std::unordered_set<std::string> ids;
    for (int i = 0; i < 10'000; ++i)
      ids.insert(make_incarnation_id());
    CHECK_EQ(ids.size(), 10'000);
  }

} // TEST_SUITE

} // namespace durable::test
