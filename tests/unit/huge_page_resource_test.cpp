#include <cstdint>
#include <cstring>

#include <doctest/doctest.h>

#include "durable/storage/huge_page_resource.hpp"

namespace durable::test {

using storage::huge_page_resource;

TEST_SUITE("storage.huge_page_resource") {
  TEST_CASE("stock_up maps whole huge pages and only as many as asked for") {
    huge_page_resource pages;
    pages.stock_up(0);
    CHECK(pages.stocked() == 0);
    pages.stock_up(1);
    CHECK(pages.stocked() == 1);
    pages.stock_up(huge_page_resource::huge_page_bytes);
    CHECK(pages.stocked() == 1);
    pages.stock_up(huge_page_resource::huge_page_bytes + 1);
    CHECK(pages.stocked() == 2);
  }

  TEST_CASE("a large block takes a stocked page and a small one never does") {
    huge_page_resource pages;
    pages.stock_up(1);
    REQUIRE(pages.stocked() == 1);
    auto* small = pages.allocate(64, 8);
    CHECK(pages.stocked() == 1);
    const auto bytes = huge_page_resource::huge_threshold;
    auto* big = pages.allocate(bytes, 64);
    CHECK(pages.stocked() == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(big)
            % huge_page_resource::huge_page_bytes
          == 0);
    std::memset(big, 0x5a, bytes); // writable to its end
    CHECK(static_cast<unsigned char*>(big)[bytes - 1] == 0x5a);
    // An empty stock maps a fresh block.
    auto* other = pages.allocate(bytes, 64);
    CHECK(other != big);
    pages.deallocate(other, bytes, 64);
    pages.deallocate(big, bytes, 64);
    pages.deallocate(small, 64, 8);
  }

  TEST_CASE("a block larger than a huge page is mapped and leaves the stock") {
    huge_page_resource pages;
    pages.stock_up(1);
    const auto bytes = 3 * huge_page_resource::huge_page_bytes;
    auto* big = pages.allocate(bytes, 64);
    CHECK(pages.stocked() == 1);
    std::memset(big, 1, bytes);
    pages.deallocate(big, bytes, 64);
  }

} // TEST_SUITE

} // namespace durable::test
