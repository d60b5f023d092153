// No store writes a number out of the ranges of stored_ranges.hpp: an
// insert refuses the row alone, apply the transition alone, and the rest
// of their batch is written.
#include <cmath>
#include <functional>
#include <limits>

#include "durable/stored_ranges.hpp"
#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;
using kind = insert_outcome::kind;

namespace {

constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A change that puts one number of a row out of range, and what the
/// refusal must say.
struct bad_number {
  const char* what;
  std::function<void(execution_record&)> set;
  const char* reason;
};

std::vector<bad_number> bad_numbers() {
  const auto max_time = stored_ranges::time_us.max;
  return {
    {"timeout 0", [](auto& r) { r.timeout = millis{0}; },
     "timeout_ms 0 is out of range (1..31536000000)"},
    {"timeout one year + 1",
     [](auto& r) { r.timeout = millis{31'536'000'001}; },
     "timeout_ms 31536000001 is out of range (1..31536000000)"},
    {"sleep -1", [](auto& r) { r.sleep_before_run = millis{-1}; },
     "sleep_before_run_ms -1 is out of range (0..31536000000)"},
    {"max_attempts -1", [](auto& r) { r.retry.max_attempts = -1; },
     "retry_max_attempts -1 is out of range (0..1000)"},
    {"max_attempts 1001", [](auto& r) { r.retry.max_attempts = 1001; },
     "retry_max_attempts 1001 is out of range (0..1000)"},
    {"base delay one hour + 1",
     [](auto& r) { r.retry.base_delay = millis{3'600'001}; },
     "retry_base_delay_ms 3600001 is out of range (0..3600000)"},
    {"multiplier NaN", [](auto& r) { r.retry.multiplier = std::nan(""); },
     "retry_multiplier nan is out of range (0.1..10)"},
    {"multiplier infinite",
     [](auto& r) {
       r.retry.multiplier = std::numeric_limits<double>::infinity();
     },
     "retry_multiplier inf is out of range (0.1..10)"},
    {"multiplier 0.05", [](auto& r) { r.retry.multiplier = 0.05; },
     "retry_multiplier 0.05 is out of range (0.1..10)"},
    {"max delay one day + 1",
     [](auto& r) { r.retry.max_delay = millis{86'400'001}; },
     "retry_max_delay_ms 86400001 is out of range (0..86400000)"},
    {"max delay below base delay",
     [](auto& r) {
       r.retry.base_delay = millis{100};
       r.retry.max_delay = millis{50};
     },
     "retry_max_delay_ms 50 is below retry_base_delay_ms 100"},
    {"jitter 3", [](auto& r) { r.retry.jitter = jitter_mode{3}; },
     "retry_jitter 3 is out of range (0..2)"},
    {"kind 5", [](auto& r) { r.kind = task_kind{5}; },
     "kind 5 is out of range (0..4)"},
    {"version 2^53", [](auto& r) { r.version = std::uint64_t{1} << 53; },
     "version 9007199254740992 is out of range (0..9007199254740991)"},
    {"attempt -1", [](auto& r) { r.attempt = -1; },
     "attempt -1 is out of range (0..1000)"},
    {"recoveries at the 32-bit maximum",
     [](auto& r) { r.recoveries = std::numeric_limits<std::int32_t>::max(); },
     "recoveries 2147483647 is out of range (0..2147483646)"},
    {"start_at before 1970", [](auto& r) { r.start_at = from_micros(-1); },
     "start_at -1 is out of range (0..9223372036854775)"},
    {"start_at after 2262",
     [=](auto& r) { r.start_at = from_micros(max_time + 1); },
     "start_at 9223372036854776 is out of range (0..9223372036854775)"},
    {"lease at the 64-bit maximum",
     [](auto& r) {
       r.owner = "owner_a";
       r.lease_expires_at = from_micros(int64_max);
     },
     "lease_expires_at 9223372036854775807 is out of range"},
    {"expires_at at the 64-bit maximum",
     [](auto& r) { r.expires_at = from_micros(int64_max); },
     "expires_at 9223372036854775807 is out of range"},
    {"created_at before 1970", [](auto& r) { r.created_at = from_micros(-5); },
     "created_at -5 is out of range"},
  };
}

} // namespace

TEST_SUITE("storage.conformance.ranges") {
  DURABLE_CONFORMANCE_CASE(
    "insert refuses a row whose timeout would overflow a claim and stores "
    "its batch-mates") {
    fixture f{Backend::make};
    auto bad = f.make_row("te_bad");
    bad.timeout = millis{int64_max};
    auto out = f.store->insert({f.make_row("te_a"), bad, f.make_row("te_b")});
    REQUIRE(out.size() == 3);
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::refused);
    CHECK(out[1].execution_id == "te_bad");
    CHECK(out[1].reason
          == "Execution cannot be stored: timeout_ms 9223372036854775807 is "
             "out of range (1..31536000000)");
    CHECK(out[2].result == kind::inserted);
    CHECK_FALSE(f.store->get("te_bad").has_value());
    CHECK(ids_of(f.claim().claimed)
          == std::vector<std::string>{"te_a", "te_b"});
  }

  DURABLE_CONFORMANCE_CASE("insert refuses each number out of range and names "
                           "it") {
    fixture f{Backend::make};
    int n = 0;
    for (const auto& bad : bad_numbers()) {
      CAPTURE(bad.what);
      auto r = f.make_row("te_" + std::to_string(n++));
      bad.set(r);
      auto out = f.store->insert({r});
      REQUIRE(out.size() == 1);
      CHECK(out[0].result == kind::refused);
      CHECK(out[0].execution_id == r.id);
      CHECK(contains(out[0].reason, bad.reason));
      CHECK_FALSE(f.store->get(r.id).has_value());
    }
  }

  DURABLE_CONFORMANCE_CASE("insert stores every number at the ends of its "
                           "range") {
    fixture f{Backend::make};
    auto high = f.make_row("te_high");
    high.timeout = millis{31'536'000'000};
    high.sleep_before_run = millis{31'536'000'000};
    high.retry = retry_options{1000, millis{3'600'000}, 10.0,
                               millis{86'400'000}, jitter_mode::equal};
    high.kind = task_kind::sleeping;
    high.version = (std::uint64_t{1} << 53) - 1;
    high.attempt = 1000;
    high.recoveries = std::numeric_limits<std::int32_t>::max() - 1;
    high.start_at = from_micros(stored_ranges::time_us.max);
    high.expires_at = from_micros(stored_ranges::time_us.max);
    high.finished_at = from_micros(stored_ranges::time_us.max);
    auto low = f.make_row("te_low");
    low.timeout = millis{1};
    low.retry = retry_options{0, millis{0}, 0.1, millis{0}, jitter_mode::none};
    low.start_at = from_micros(0);
    low.created_at = from_micros(0);
    low.updated_at = from_micros(0);
    low.owner = "owner_a";
    low.lease_expires_at = from_micros(0);
    auto out = f.store->insert({high, low});
    REQUIRE(out.size() == 2);
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::inserted);
    check_same_row(high, f.must_get("te_high"));
    check_same_row(low, f.must_get("te_low"));
  }

  DURABLE_CONFORMANCE_CASE("apply refuses a transition that would store a "
                           "number out of range and writes its batch-mates") {
    fixture f{Backend::make};
    auto a = f.put(f.make_row("te_a"));
    auto b = f.put(f.make_row("te_b"));
    f.clock.advance(1s);
    auto bad = f.touch(a);
    bad.next.attempt = -1;
    auto out = f.store->apply({bad, f.touch(b)});
    REQUIRE(out.size() == 2);
    CHECK(out[0].status == write_status::refused);
    CHECK(
      out[0].reason
      == "Execution cannot be stored: attempt -1 is out of range (0..1000)");
    REQUIRE(out[0].current.has_value());
    check_same_row(a, *out[0].current);
    CHECK(out[1].status == write_status::applied);
    check_same_row(a, f.must_get("te_a"));
    CHECK(f.must_get("te_b").version == b.version + 1);
  }

  DURABLE_CONFORMANCE_CASE("apply refuses a transition whose child would store "
                           "a number out of range") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    f.clock.advance(1s);
    auto t = f.touch(p);
    auto child = f.make_child(p, "te_c", 0);
    child.timeout = millis{int64_max};
    t.children.push_back(child);
    auto out = f.apply(t);
    CHECK(out.status == write_status::refused);
    CHECK(out.reason
          == "Execution cannot be stored: child te_c: timeout_ms "
             "9223372036854775807 is out of range (1..31536000000)");
    CHECK_FALSE(f.store->get("te_c").has_value());
    check_same_row(p, f.must_get("te_p"));
  }

  DURABLE_CONFORMANCE_CASE("apply refuses a write that would move the version "
                           "out of range") {
    fixture f{Backend::make};
    auto r = f.make_row("te_v");
    r.version = (std::uint64_t{1} << 53) - 1;
    r = f.put(r);
    auto out = f.apply(f.touch(r));
    CHECK(out.status == write_status::refused);
    CHECK(contains(out.reason, "version 9007199254740991 leaves no room"));
    check_same_row(r, f.must_get("te_v"));
  }

} // TEST_SUITE
