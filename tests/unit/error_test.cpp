#include <stdexcept>
#include <string>
#include <type_traits>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/error.hpp"

static_assert(std::is_base_of_v<std::runtime_error, durable::error>);
static_assert(static_cast<int>(durable::error_kind::generic) == 0);
static_assert(static_cast<int>(durable::error_kind::not_found) == 1);
static_assert(static_cast<int>(durable::error_kind::timed_out) == 2);
static_assert(static_cast<int>(durable::error_kind::cancelled) == 3);

namespace durable::test {

namespace {

template <class T>
execution_error convert(T&& value, std::string_view prefix = {}) {
  return to_execution_error(std::make_exception_ptr(std::forward<T>(value)),
                            prefix);
}

} // namespace

TEST_SUITE("core.error") {
  TEST_CASE("a generic error is non-retryable and not internal by default") {
    error e{"boom"};
    CHECK_EQ(e.kind(), error_kind::generic);
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "boom");
    CHECK_EQ(e.info().message, "boom");
  }

  TEST_CASE("error::retryable makes a retryable generic error") {
    auto e = error::retryable("try again");
    CHECK_EQ(e.kind(), error_kind::generic);
    CHECK(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "try again");
  }

  TEST_CASE("error::non_retryable makes a non-retryable generic error") {
    auto e = error::non_retryable("give up");
    CHECK_EQ(e.kind(), error_kind::generic);
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "give up");
  }

  TEST_CASE("error::internal marks the error internal and may be retryable") {
    auto plain = error::internal("store down");
    CHECK_EQ(plain.kind(), error_kind::generic);
    CHECK(plain.is_internal());
    CHECK_FALSE(plain.is_retryable());
    auto retryable = error::internal("store down", true);
    CHECK(retryable.is_internal());
    CHECK(retryable.is_retryable());
  }

  TEST_CASE("error::not_found makes a non-retryable not_found error") {
    auto e = error::not_found("Task not found [taskId=x]");
    CHECK_EQ(e.kind(), error_kind::not_found);
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "Task not found [taskId=x]");
  }

  TEST_CASE("error::timed_out is retryable with the reference's message") {
    auto e = error::timed_out();
    CHECK_EQ(e.kind(), error_kind::timed_out);
    CHECK(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "Task execution timed out");
    CHECK_EQ(e.info(), timed_out_error());
    CHECK_EQ(error::timed_out("slow").info().message, "slow");
  }

  TEST_CASE("error::cancelled is non-retryable with the reference's message") {
    auto e = error::cancelled();
    CHECK_EQ(e.kind(), error_kind::cancelled);
    CHECK_FALSE(e.is_retryable());
    CHECK_FALSE(e.is_internal());
    CHECK_EQ(std::string{e.what()}, "Task execution cancelled");
    CHECK_EQ(e.info(), cancelled_error());
    CHECK_EQ(error::cancelled("stop").info().message, "stop");
  }

  TEST_CASE("not_found and cancelled errors are never retryable") {
    for (auto kind : {error_kind::not_found, error_kind::cancelled}) {
      CAPTURE(to_string(kind));
      error e{execution_error{kind, "m", true, false}};
      CHECK_EQ(e.kind(), kind);
      CHECK_FALSE(e.is_retryable());
    }
  }

  TEST_CASE("timed_out errors are always retryable") {
    error e{execution_error{error_kind::timed_out, "late", false, false}};
    CHECK(e.is_retryable());
    CHECK_EQ(e.info().message, "late");
  }

  TEST_CASE("errors of the fixed kinds are never internal") {
    for (auto kind : {error_kind::not_found, error_kind::timed_out,
                      error_kind::cancelled}) {
      CAPTURE(to_string(kind));
      error e{execution_error{kind, "m", false, true}};
      CHECK_FALSE(e.is_internal());
    }
  }

  TEST_CASE("a generic error keeps the flags it is built with") {
    error e{execution_error{error_kind::generic, "m", true, true}};
    CHECK(e.is_retryable());
    CHECK(e.is_internal());
  }

  TEST_CASE("to_execution_error keeps the kind and flags of a durable::error") {
    CHECK_EQ(convert(error::not_found("gone")),
             execution_error{error_kind::not_found, "gone", false, false});
    CHECK_EQ(convert(error::internal("bad", true)),
             execution_error{error_kind::generic, "bad", true, true});
    CHECK_EQ(convert(error::non_retryable("no")),
             execution_error{error_kind::generic, "no", false, false});
    CHECK_EQ(convert(error::cancelled()), cancelled_error());
  }

  TEST_CASE("to_execution_error makes any std::exception retryable generic") {
    auto e = convert(std::logic_error{"oops"});
    CHECK_EQ(e, execution_error{error_kind::generic, "oops", true, false});
  }

  TEST_CASE("to_execution_error turns a thrown int into \"Unknown error\"") {
    auto e = convert(42);
    CHECK_EQ(e, execution_error{error_kind::generic, "Unknown error", true,
                                false});
  }

  TEST_CASE("to_execution_error puts a non-empty prefix before the message") {
    CHECK_EQ(
      convert(std::runtime_error{"boom"}, "Invalid input to task t").message,
      "Invalid input to task t: boom");
    auto e = convert(error::not_found("gone"), "step 2");
    CHECK_EQ(e.message, "step 2: gone");
    CHECK_EQ(e.kind, error_kind::not_found);
    CHECK_EQ(convert(7, "p").message, "p: Unknown error");
    CHECK_EQ(convert(std::runtime_error{"boom"}, "").message, "boom");
  }

  TEST_CASE("to_execution_error replaces invalid UTF-8 and NUL with U+FFFD") {
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK_EQ(convert(std::runtime_error{"open caf\xFF.txt"}).message,
             "open caf" + fffd + ".txt");
    auto e = convert(error::not_found(std::string{"a\0b", 3}));
    CHECK_EQ(e.message, "a" + fffd + "b");
    CHECK_EQ(e.kind, error_kind::not_found); // kind and flags kept
    CHECK_EQ(convert(std::runtime_error{"x"}, "step \xC3").message,
             "step " + fffd + ": x");
    CHECK_EQ(convert(std::runtime_error{"caf\xC3\xA9"}).message, "caf\xC3\xA9");
  }

  TEST_CASE("execution_error round-trips through JSON with stored names") {
    execution_error e{error_kind::timed_out, "late", true, true};
    nlohmann::json j = e;
    CHECK_EQ(j, nlohmann::json{{"kind", "timed_out"},
                               {"message", "late"},
                               {"retryable", true},
                               {"internal", true}});
    CHECK_EQ(j.get<execution_error>(), e);
    for (auto kind :
         {error_kind::generic, error_kind::not_found, error_kind::cancelled}) {
      execution_error other{kind, "m", false, false};
      CHECK_EQ(nlohmann::json(other).get<execution_error>(), other);
    }
  }

  TEST_CASE("execution_error JSON defaults missing fields and unknown kinds") {
    auto e = nlohmann::json::object().get<execution_error>();
    CHECK_EQ(e, execution_error{});
    auto odd = nlohmann::json{{"kind", "exploded"}, {"message", "m"}}
                 .get<execution_error>();
    CHECK_EQ(odd.kind, error_kind::generic);
    CHECK_EQ(odd.message, "m");
  }

  TEST_CASE("parse_error_kind inverts to_string and rejects other names") {
    for (auto kind : {error_kind::generic, error_kind::not_found,
                      error_kind::timed_out, error_kind::cancelled})
      CHECK_EQ(parse_error_kind(to_string(kind)), kind);
    CHECK_EQ(to_string(error_kind::not_found), "not_found");
    CHECK_FALSE(parse_error_kind("").has_value());
    CHECK_FALSE(parse_error_kind("Generic").has_value());
    CHECK_FALSE(parse_error_kind("timedOut").has_value());
    CHECK_FALSE(parse_error_kind("cancelled ").has_value());
    CHECK_EQ(to_string(static_cast<error_kind>(9)), "generic");
  }

} // TEST_SUITE

} // namespace durable::test
