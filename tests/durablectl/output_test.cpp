// durablectl's text output: times and the list table.
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

  TEST_CASE("a list shows the error message of executions that ended in "
            "one") {
    json page{
      {"executions",
       {{{"execution_id", "te_ok"},
         {"task_id", "echo"},
         {"status", "completed"},
         {"attempt", 1},
         {"created_at_us", 1'796'637'600'000'000}},
        {{"execution_id", "te_bad"},
         {"task_id", "refuse"},
         {"status", "failed"},
         {"attempt", 1},
         {"created_at_us", 1'796'637'600'000'000},
         {"error",
          {{"message", "refused:\nno stock"}, {"kind", "non_retryable"}}}},
        {{"execution_id", "te_long"},
         {"task_id", "refuse"},
         {"status", "failed"},
         {"attempt", 2},
         {"created_at_us", 1'796'637'600'000'000},
         {"error", {{"message", std::string(100, 'x')}}}}}}};
    auto text = printed(
      [&](std::FILE* out) { durablectl::print_list(out, page); });
    INFO(text);
    CHECK(text.find("ERROR") != std::string::npos);
    CHECK(text.find("2026-12-07T10:00:00.000Z  refused: no stock\n")
          != std::string::npos);
    // No padding after the last cell of a row without an error.
    CHECK(text.find("te_ok      echo    completed  1        "
                    "2026-12-07T10:00:00.000Z\n")
          != std::string::npos);
    CHECK(text.find(std::string(80, 'x') + "…\n") != std::string::npos);
    CHECK(text.find(std::string(81, 'x')) == std::string::npos);
  }
}
