#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/transitions.hpp"
#include "durable/utf8.hpp"

namespace durable::test {

namespace {

using namespace std::string_literals;
using utf8::find_invalid;
using utf8::is_storable;
using utf8::problem;
using utf8::sanitize;

const std::string fffd{utf8::replacement_character};

/// nlohmann's own UTF-8 check (its serializer refuses ill-formed text):
/// an independent oracle for well-formedness.
bool nlohmann_accepts(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

} // namespace

TEST_SUITE("core.utf8") {
  TEST_CASE("well-formed text is storable and kept as it is") {
    for (const auto& s : {""s, "plain ascii"s, "caf\xC3\xA9"s, // U+00E9
                          "\xE2\x82\xAC"s,                     // U+20AC
                          "\xF0\x9F\x98\x80"s,                 // U+1F600
                          "\xED\x9F\xBF"s,     // U+D7FF, below surrogates
                          "\xEE\x80\x80"s,     // U+E000, above them
                          "\xEF\xBF\xBF"s,     // U+FFFF
                          "\xF4\x8F\xBF\xBF"s, // U+10FFFF, the last
                          "\x7F"s, "\xC2\x80"s, "\xE0\xA0\x80"s,
                          "\xF0\x90\x80\x80"s}) { // shortest 2, 3, 4 bytes
      CAPTURE(s);
      CHECK(is_storable(s));
      CHECK_FALSE(find_invalid(s).has_value());
      CHECK(sanitize(s) == s);
      CHECK_FALSE(problem("Input", s).has_value());
    }
  }

  TEST_CASE("ill-formed sequences are not storable") {
    struct bad_case {
      const char* name;
      std::string text;
    };
    for (const auto& [name, s] : {
           bad_case{"byte 0xFF", "\xFF"s},
           bad_case{"byte 0xFE", "\xFE"s},
           bad_case{"a stray continuation byte", "\x80"s},
           bad_case{"overlong NUL", "\xC0\x80"s},
           bad_case{"overlong two bytes", "\xC1\xBF"s},
           bad_case{"overlong three bytes", "\xE0\x9F\xBF"s},
           bad_case{"overlong four bytes", "\xF0\x8F\xBF\xBF"s},
           bad_case{"surrogate U+D800", "\xED\xA0\x80"s},
           bad_case{"surrogate U+DFFF", "\xED\xBF\xBF"s},
           bad_case{"above U+10FFFF", "\xF4\x90\x80\x80"s},
           bad_case{"lead byte 0xF5", "\xF5\x80\x80\x80"s},
           bad_case{"truncated two bytes", "\xC3"s},
           bad_case{"truncated three bytes", "\xE2\x82"s},
           bad_case{"truncated four bytes", "\xF0\x9F\x98"s},
           bad_case{"lead byte then ASCII", "\xE2"
                                            "A"s},
         }) {
      const char* named = name; // clang 14 cannot capture a structured binding
      CAPTURE(named);
      CHECK_FALSE(is_storable(s));
      CHECK(find_invalid(s) == std::optional<std::size_t>{0});
      CHECK_FALSE(nlohmann_accepts(s)); // the oracle agrees
      auto clean = sanitize(s);
      CHECK(is_storable(clean));
      CHECK(clean.starts_with(fffd));
    }
  }

  TEST_CASE("a NUL byte is valid UTF-8 but not storable text") {
    auto s = "a\0b"s;
    CHECK(nlohmann_accepts(s));
    CHECK(find_invalid(s) == std::optional<std::size_t>{1});
    CHECK(sanitize(s) == "a" + fffd + "b");
    CHECK(problem("Input", s) == "Input contains a NUL byte [offset=1]");
  }

  TEST_CASE("the offset is the first byte of the first bad sequence") {
    CHECK(find_invalid("ab\xFF"
                       "cd")
          == std::optional<std::size_t>{2});
    CHECK(find_invalid("caf\xC3\xA9\xFF") == std::optional<std::size_t>{5});
    CHECK(find_invalid("ok\xE2\x82") == std::optional<std::size_t>{2});
    CHECK(problem("Output", "ab\xFF")
          == "Output is not valid UTF-8 [offset=2]");
  }

  TEST_CASE("each maximal ill-formed subpart becomes one U+FFFD") {
    // The example of the Unicode standard, chapter 3 (table 3-11 and around):
    // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
    auto in = "a\xF1\x80\x80\xE1\x80\xC2"
              "b\x80"
              "c\x80\xBF"
              "d"s;
    auto want = "a" + fffd + fffd + fffd + "b" + fffd + "c" + fffd + fffd + "d";
    CHECK(sanitize(in) == want);

    SUBCASE("a truncated sequence before ASCII keeps the ASCII byte") {
      CHECK(sanitize("\xE2\x82"
                     "A")
            == fffd + "A");
    }
    SUBCASE("a surrogate is three bad bytes") {
      CHECK(sanitize("\xED\xA0\x80") == fffd + fffd + fffd);
    }
    SUBCASE("an overlong form is bad byte by byte") {
      CHECK(sanitize("\xC0\x80") == fffd + fffd);
      CHECK(sanitize("\xE0\x80\x80") == fffd + fffd + fffd);
    }
    SUBCASE("a code point above U+10FFFF is bad byte by byte") {
      CHECK(sanitize("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);
    }
    SUBCASE("a truncated sequence at the end is one U+FFFD") {
      CHECK(sanitize("x\xF0\x9F\x98") == "x" + fffd);
    }
    SUBCASE("good text around bad bytes is kept") {
      CHECK(sanitize("caf\xC3\xA9 \xFF\xFE \xE2\x82\xAC")
            == "caf\xC3\xA9 " + fffd + fffd + " \xE2\x82\xAC");
    }
    SUBCASE("U+FFFD itself is kept") {
      CHECK(sanitize(fffd) == fffd);
    }
  }

  TEST_CASE("random bytes: the oracle agrees and sanitize is storable and "
            "idempotent") {
    std::mt19937 gen{20240611};
    // Mostly high bytes, so that well-formed sequences occur too.
    std::uniform_int_distribution<int> len(0, 12);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> high(0x80, 0xF5);
    for (int round = 0; round < 20000; ++round) {
      std::string s;
      auto n = len(gen);
      for (int i = 0; i < n; ++i)
        s.push_back(static_cast<char>(i % 3 == 0 ? byte(gen) : high(gen)));
      CAPTURE(s);
      const bool has_nul = s.find('\0') != std::string::npos;
      REQUIRE(is_storable(s) == (nlohmann_accepts(s) && !has_nul));
      auto clean = sanitize(s);
      REQUIRE(is_storable(clean));
      REQUIRE(sanitize(clean) == clean);
      if (is_storable(s))
        REQUIRE(clean == s);
    }
  }

  TEST_CASE("every error a transition stores is storable text") {
    task_options o;
    o.id = "t";
    o.timeout = millis{1000};
    o.retry.max_attempts = 1;
    const auto now = from_micros(1'700'000'000'000'000);
    auto row = make_execution("t", task_kind::task, o, "null", now);
    row.status = execution_status::running;
    const execution_error bad{error_kind::generic, std::string{"x\xFF\0y", 4},
                              true, false};
    const auto want = "x" + fffd + fffd + "y";

    SUBCASE("a run failed and retried") {
      auto t = transitions::fail_run(row, bad, now, millis{0});
      CHECK(t.next.status == execution_status::ready);
      REQUIRE(t.next.error.has_value());
      CHECK(t.next.error->message == want);
      CHECK(t.next.error->retryable);
    }
    SUBCASE("a run failed for good") {
      row.attempt = 1;
      auto t = transitions::fail_run(row, bad, now, millis{0});
      CHECK(t.next.status == execution_status::failed);
      REQUIRE(t.next.error.has_value());
      CHECK(t.next.error->message == want);
    }
    SUBCASE("an execution finished with an error") {
      auto t = transitions::finish(row, execution_status::failed, std::nullopt,
                                   bad, now);
      REQUIRE(t.next.error.has_value());
      CHECK(t.next.error->message == want);
    }
  }

} // TEST_SUITE

} // namespace durable::test
