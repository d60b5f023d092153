#include <map>
#include <memory_resource>
#include <random>
#include <string>

#include <doctest/doctest.h>

#include "durable/storage/row_table.hpp"

namespace durable::test {

namespace {

execution_record row(std::string id, std::string input = "null") {
  execution_record r;
  r.id = std::move(id);
  r.input = std::move(input);
  return r;
}

} // namespace

TEST_SUITE("storage.row_table") {
  TEST_CASE("a stored row is found by its id and keeps its address") {
    std::pmr::unsynchronized_pool_resource pool;
    storage::row_table t{&pool};
    auto [stored, added] = t.insert(row("te_a", "1"));
    REQUIRE(added);
    CHECK(t.find("te_a") == stored);
    CHECK(stored->input == "1");
    CHECK(t.find("te_b") == nullptr);
    for (int i = 0; i < 1000; ++i) // several growths
      t.insert(row("te_x" + std::to_string(i)));
    CHECK(t.find("te_a") == stored);
    CHECK(t.size() == 1001);
  }

  TEST_CASE(
    "inserting a taken id returns the stored row and leaves the new one") {
    std::pmr::unsynchronized_pool_resource pool;
    storage::row_table t{&pool};
    auto first = t.insert(row("te_a", "1")).first;
    auto again = row("te_a", "2");
    auto [found, added] = t.insert(std::move(again));
    CHECK_FALSE(added);
    CHECK(found == first);
    CHECK(found->input == "1");
    CHECK(again.input == "2");
    CHECK(t.size() == 1);
  }

  TEST_CASE("random inserts and erases agree with a std map") {
    std::pmr::unsynchronized_pool_resource pool;
    storage::row_table t{&pool};
    std::map<std::string, std::string> model;
    std::mt19937 gen{42};
    // Few distinct ids, so that probe runs collide, wrap and shift back.
    std::uniform_int_distribution<int> pick{0, 299};
    for (int step = 0; step < 20000; ++step) {
      auto id = "te_" + std::to_string(pick(gen));
      if (gen() % 3 == 0) {
        CHECK(t.erase(id) == (model.erase(id) == 1));
      } else {
        auto value = std::to_string(step);
        auto [r, added] = t.insert(row(id, value));
        CHECK(added == model.emplace(id, value).second);
        CHECK(r->input == model[id]);
      }
    }
    CHECK(t.size() == model.size());
    for (const auto& [id, value] : model) {
      auto* r = t.find(id);
      REQUIRE(r != nullptr);
      CHECK(r->input == value);
    }
    std::size_t seen = 0;
    t.for_each([&](const execution_record& r) {
      ++seen;
      CHECK(model.count(r.id) == 1);
    });
    CHECK(seen == model.size());
  }

  TEST_CASE("spare rows count the chunk's rest and the erased rows") {
    std::pmr::unsynchronized_pool_resource pool;
    storage::row_table t{&pool};
    CHECK(t.spare_rows() == 0);
    const auto first_chunk = t.next_chunk_bytes() / sizeof(execution_record);
    REQUIRE(first_chunk > 1);
    t.insert(row("te_a"));
    CHECK(t.spare_rows() == first_chunk - 1);
    // The next chunk is larger than the first.
    CHECK(t.next_chunk_bytes() > first_chunk * sizeof(execution_record));
    t.insert(row("te_b"));
    CHECK(t.spare_rows() == first_chunk - 2);
    REQUIRE(t.erase("te_a"));
    CHECK(t.spare_rows() == first_chunk - 1);
    t.insert(row("te_c")); // takes the erased row's memory
    CHECK(t.spare_rows() == first_chunk - 2);
  }

} // TEST_SUITE

} // namespace durable::test
