#include <array>
#include <string_view>
#include <utility>

#include <doctest/doctest.h>

#include "durable/status.hpp"

namespace durable::test {

namespace {

using s = execution_status;

// The numeric values are stored: they must never change.
static_assert(static_cast<int>(s::ready) == 0);
static_assert(static_cast<int>(s::running) == 1);
static_assert(static_cast<int>(s::waiting_for_children) == 2);
static_assert(static_cast<int>(s::waiting_for_finalize) == 3);
static_assert(static_cast<int>(s::completed) == 4);
static_assert(static_cast<int>(s::failed) == 5);
static_assert(static_cast<int>(s::timed_out) == 6);
static_assert(static_cast<int>(s::finalize_failed) == 7);
static_assert(static_cast<int>(s::cancelled) == 8);

constexpr std::array<std::pair<s, std::string_view>, 9> all{{
  {s::ready, "ready"},
  {s::running, "running"},
  {s::waiting_for_children, "waiting_for_children"},
  {s::waiting_for_finalize, "waiting_for_finalize"},
  {s::completed, "completed"},
  {s::failed, "failed"},
  {s::timed_out, "timed_out"},
  {s::finalize_failed, "finalize_failed"},
  {s::cancelled, "cancelled"},
}};

} // namespace

TEST_SUITE("core.status") {
  TEST_CASE("every status has its snake_case name and parses back") {
    for (const auto& [status, name] : all) {
      // CAPTURE takes a lambda capture, which clang 14 refuses for a
      // structured binding: capture a copy.
      std::string_view named = name;
      CAPTURE(named);
      CHECK_EQ(to_string(status), name);
      CHECK_EQ(parse_status(name), status);
    }
  }

  TEST_CASE("only the five end states are finished") {
    for (const auto& [status, name] : all) {
      std::string_view named = name;
      CAPTURE(named);
      bool end = status == s::completed || status == s::failed
                 || status == s::timed_out || status == s::finalize_failed
                 || status == s::cancelled;
      CHECK_EQ(is_finished(status), end);
    }
  }

  TEST_CASE("every end state but completed is errored") {
    for (const auto& [status, name] : all) {
      std::string_view named = name;
      CAPTURE(named);
      bool errored = status == s::failed || status == s::timed_out
                     || status == s::finalize_failed || status == s::cancelled;
      CHECK_EQ(is_errored(status), errored);
    }
  }

  TEST_CASE("only ready and running and the waiting states are active") {
    for (const auto& [status, name] : all) {
      std::string_view named = name;
      CAPTURE(named);
      bool active = status == s::ready || status == s::running
                    || status == s::waiting_for_children
                    || status == s::waiting_for_finalize;
      CHECK_EQ(is_active(status), active);
    }
  }

  TEST_CASE("parse_status rejects names it does not produce") {
    for (std::string_view bad :
         {"", "Ready", "RUNNING", "done", " ready", "ready ",
          "waitingForChildren", "unknown", "timed-out"}) {
      CAPTURE(bad);
      CHECK_FALSE(parse_status(bad).has_value());
    }
  }

  TEST_CASE("a status value out of range is named unknown") {
    CHECK_EQ(to_string(static_cast<s>(9)), "unknown");
    CHECK_EQ(to_string(static_cast<s>(255)), "unknown");
  }

} // TEST_SUITE

} // namespace durable::test
