// durablectl's text output.
#include <cstdio>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durablectl/output.hpp"

namespace {

using nlohmann::json;

/// What `print` wrote, through a memory stream.
template <class F>
std::string printed(F print) {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* out = ::open_memstream(&data, &size);
  REQUIRE(out != nullptr);
  print(out);
  std::fclose(out);
  std::string text{data, size};
  std::free(data);
  return text;
}

} // namespace

TEST_SUITE("durablectl.output") {
  TEST_CASE("times are ISO-8601 in UTC with milliseconds") {
    CHECK(durablectl::format_time(1'796'637'600'042'999)
          == "2026-12-07T10:00:00.042Z");
    CHECK(durablectl::format_time(0) == "1970-01-01T00:00:00.000Z");
  }
}
