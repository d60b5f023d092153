#include <string>
#include <string_view>

#include <doctest/doctest.h>

#include "durable/shared_text.hpp"
#include "durable/trace_context.hpp"

namespace durable::test {

namespace {

namespace tc = trace_context;

constexpr std::string_view valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                                   "00f067aa0ba902b7-01";

/// `valid` with the character at `at` replaced by `c`.
std::string with(std::size_t at, char c) {
  std::string s{valid};
  s[at] = c;
  return s;
}

} // namespace

TEST_CASE("trace_context: a version-00 traceparent is accepted as it is") {
  CHECK_FALSE(tc::traceparent_problem(valid));
  CHECK_EQ(tc::stored_traceparent(valid), valid);
  CHECK_EQ(tc::trace_id_of(valid), "4bf92f3577b34da6a3ce929d0e0e4736");
  // Unsampled (flags 00) is still a context to carry.
  CHECK_FALSE(tc::traceparent_problem(with(54, '0')));
}

TEST_CASE("trace_context: malformed traceparents are refused with the reason") {
  auto problem = [](std::string_view text) {
    auto why = tc::traceparent_problem(text);
    REQUIRE_MESSAGE(why, "accepted: " << text);
    CHECK(why->starts_with("Invalid traceparent: "));
    return *why;
  };
  CHECK(problem("").find("0 characters, not 55") != std::string::npos);
  CHECK(problem(valid.substr(0, 54)).find("54 characters")
        != std::string::npos);
  CHECK(problem(with(0, 'f').replace(1, 1, "f")).find("version")
        != std::string::npos);
  CHECK(problem(with(0, 'G')).find("version") != std::string::npos);
  CHECK(problem(with(2, '_')).find("separated") != std::string::npos);
  CHECK(problem(with(35, '_')).find("separated") != std::string::npos);
  CHECK(problem(with(52, '_')).find("separated") != std::string::npos);
  // Uppercase hex is not W3C's form.
  CHECK(problem(with(3, 'B')).find("trace id") != std::string::npos);
  CHECK(problem("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
          .find("trace id")
        != std::string::npos);
  CHECK(problem(with(40, 'x')).find("parent id") != std::string::npos);
  CHECK(problem("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")
          .find("parent id")
        != std::string::npos);
  CHECK(problem(with(53, 'z')).find("flags") != std::string::npos);
  // Version 00 has four fields, no more.
  CHECK(problem(std::string{valid} + "-ab").find("exactly four")
        != std::string::npos);
  CHECK(problem(std::string(600, 'a')).find("longer than 512")
        != std::string::npos);
}

TEST_CASE("trace_context: a later version keeps its first four fields") {
  auto later = with(0, '0');
  later[1] = '1';
  CHECK_FALSE(tc::traceparent_problem(later));
  CHECK_FALSE(tc::traceparent_problem(later + "-extra"));
  CHECK(tc::traceparent_problem(later + "extra"));
  CHECK_EQ(tc::stored_traceparent(later + "-extra"), later);
}

TEST_CASE("shared_text: an optional string shared by its copies") {
  shared_text none;
  CHECK_FALSE(none.has_value());
  CHECK(none == std::nullopt);
  CHECK_EQ(none.value_or("-"), "-");
  CHECK_FALSE(none.to_optional());

  shared_text a{std::string{valid}};
  auto b = a;
  REQUIRE(b.has_value());
  CHECK_EQ(&*a, &*b); // one string, two handles
  CHECK(b == valid);
  CHECK_EQ(b.to_optional(), std::string{valid});
  // Equal by value, not by handle.
  CHECK(a == shared_text{std::string{valid}});
  CHECK_FALSE(a == none);
  CHECK_FALSE(a == shared_text{std::string{"other"}});
  b.reset();
  CHECK(b == none);
  CHECK(a == valid);
  static_assert(sizeof(shared_text) <= 2 * sizeof(void*));
}

} // namespace durable::test
