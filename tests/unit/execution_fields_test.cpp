#include <cstddef>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/actors/wire.hpp"
#include "durable/execution_fields.hpp"
#include "support/full_record.hpp"

namespace durable::test {

namespace {

/// The names of the fields where `a` and `b` differ.
std::vector<std::string> differences(const execution_record& a,
                                     const execution_record& b) {
  std::vector<std::string> out;
  fields::for_each([&](const auto& f) {
    if (!(f.of(a) == f.of(b)))
      out.emplace_back(f.name);
  });
  return out;
}

std::vector<char> serialize(execution_record r) {
  std::vector<char> buf;
  caf::binary_serializer sink{static_cast<caf::execution_unit*>(nullptr), buf};
  REQUIRE_FALSE(sink(r));
  return buf;
}

std::string hex(const std::vector<char>& bytes) {
  std::string out;
  char two[3];
  for (char c : bytes) {
    std::snprintf(two, sizeof two, "%02x", static_cast<unsigned char>(c));
    out += two;
  }
  return out;
}

// What to_json() and the CAF serializer made of full_record() and of a
// default record before they iterated the field list: the forms must not
// change, except by a field appended to the list (`traceparent`, last on
// the wire, in its key's place in the JSON).
const std::string full_json
  = R"({"attempt":2,"children":[{"execution_id":"c-1","task_id":"child"},)"
    R"({"execution_id":"c-2","task_id":"child"}],"closed_at_us":170000000)"
    R"(0131456,"created_at_us":1700000000123456,"error":{"internal":true,)"
    R"("kind":"timed_out","message":"too slow","retryable":true},"executi)"
    R"(on_id":"exec-1","expires_at_us":1700000000127456,"finalize":{"exec)"
    R"(ution_id":"f-1","task_id":"fin"},"finished_at_us":1700000000130456)"
    R"(,"idempotency_key":"key-1","input":{"x":1},"kind":"sleeping","leas)"
    R"(e_expires_at_us":1700000006123456,"output":42,"owner":"incarnation)"
    R"(-a","parent":{"execution_id":"exec-0","index":7,"is_finalize":true)"
    R"(,"is_only_child":true,"task_id":"parent"},"recoveries":1,"retry":{)"
    R"("base_delay_ms":100,"jitter":1,"max_attempts":3,"max_delay_ms":400)"
    R"(0,"multiplier":2.5},"root":{"execution_id":"exec-r","task_id":"roo)"
    R"(t"},"run_output":"spawned","sleep_before_run_ms":250,"sleeping_id")"
    R"(:"order-42","start_at_us":1700000000124456,"started_at_us":1700000)"
    R"(000126456,"status":"finalize_failed","step":3,"task_id":"child","t)"
    R"(imeout_ms":5000,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736)"
    R"(-00f067aa0ba902b7-01","updated_at_us":1700000000125456,"version":1)"
    R"(7,"waiting_for_children_started_at_us":1700000000128456,"waiting_f)"
    R"(or_finalize_started_at_us":1700000000129456,"watched":true})";
const std::string empty_json
  = R"({"attempt":0,"children":[],"created_at_us":0,"execution_id":"","in)"
    R"(put":null,"kind":"task","recoveries":0,"retry":{"base_delay_ms":0,)"
    R"("jitter":0,"max_attempts":0,"multiplier":1.0},"root":{"execution_i)"
    R"(d":"","task_id":""},"sleep_before_run_ms":0,"start_at_us":0,"statu)"
    R"(s":"ready","step":0,"task_id":"","timeout_ms":0,"updated_at_us":0,)"
    R"("version":0,"watched":false})";
const std::string full_wire
  = "06657865632d31056368696c64040106706172656e7406657865632d30000000"
    "07010104726f6f7406657865632d7201086f726465722d343201056b65792d31"
    "0000000300000000000000644004000000000000010000000000000fa0010000"
    "0000000000fa0000000000001388077b2278223a317d01023432010922737061"
    "776e656422010208746f6f20736c6f7701010700000000000000110000000200"
    "000001010d696e6361726e6174696f6e2d610100060a24187bafc000060a2418"
    "20262800060a241820224000060a2418202a100100060a2418202df80100060a"
    "24182031e00100060a24182035c80100060a24182039b00100060a2418203d98"
    "0100060a241820418002056368696c6403632d31056368696c6403632d320103"
    "66696e03662d3100000003010137"
    "30302d34626639326633353737623334646136613363653932396430653065"
    "343733362d303066303637616130626139303262372d3031";

} // namespace

TEST_SUITE("core.execution_fields") {
  TEST_CASE("the test record sets every field of the list") {
    CHECK_EQ(differences(full_record(), execution_record{}).size(),
             fields::count);
  }

  TEST_CASE("every field has its own JSON key and every key is a field") {
    auto j = nlohmann::json(full_record());
    std::set<std::string> keys;
    for (const auto& [key, value] : j.items())
      keys.insert(key);
    std::set<std::string> listed;
    fields::for_each([&](const auto& f) { listed.emplace(f.json_key); });
    CHECK_EQ(keys, listed);
  }

  TEST_CASE("a record keeps its JSON form") {
    CHECK_EQ(nlohmann::json(full_record()).dump(), full_json);
    CHECK_EQ(nlohmann::json(execution_record{}).dump(), empty_json);
  }

  TEST_CASE("a record with every field set survives JSON") {
    auto r = full_record();
    auto back = nlohmann::json(r).get<execution_record>();
    CHECK_EQ(differences(r, back), std::vector<std::string>{});
  }

  TEST_CASE("a record with no optional field set survives JSON") {
    execution_record r;
    r.id = "exec-2";
    auto back = nlohmann::json(r).get<execution_record>();
    CHECK_EQ(differences(r, back), std::vector<std::string>{});
  }

  TEST_CASE(
    "reading JSON refuses an unknown kind or status and a missing key") {
    auto j = nlohmann::json(full_record());
    auto bad_kind = j;
    bad_kind["kind"] = "nap";
    CHECK_THROWS_AS(bad_kind.get<execution_record>(), std::invalid_argument);
    auto bad_status = j;
    bad_status["status"] = "asleep";
    CHECK_THROWS_AS(bad_status.get<execution_record>(), std::invalid_argument);
    auto missing = j;
    missing.erase("task_id");
    CHECK_THROWS_AS(missing.get<execution_record>(), nlohmann::json::exception);
  }

  TEST_CASE("a record with every field set survives the CAF serializer") {
    auto r = full_record();
    auto buf = serialize(r);
    execution_record back;
    caf::binary_deserializer source{static_cast<caf::execution_unit*>(nullptr),
                                    buf};
    REQUIRE_FALSE(source(back));
    CHECK_EQ(differences(r, back), std::vector<std::string>{});
  }

  TEST_CASE("a record keeps its wire form") {
    CHECK_EQ(hex(serialize(full_record())), full_wire);
  }

} // TEST_SUITE

} // namespace durable::test
