// A node's log lines: the JSON and text layouts and the level filter.
#include <chrono>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include "durable/nodes/node_log.hpp"

namespace {

using durable::engine_event;
using durable::nodes::format_json_line;
using durable::nodes::format_text_line;
using durable::nodes::log_format;
using durable::nodes::log_level;
using durable::nodes::log_record;
using durable::nodes::node_log;
using nlohmann::json;

/// 2026-12-07T10:00:00.042Z
log_record at_ten(log_record r) {
  using namespace std::chrono;
  r.time = sys_days{year{2026} / 12 / 7} + hours{10} + milliseconds{42};
  return r;
}

/// The lines a node_log wrote into memory.
struct captured_log {
  std::ostringstream out;
  node_log log;

  captured_log(log_level level, log_format format)
    : log("a", "de_1", {.level = level, .format = format},
          std::make_shared<spdlog::sinks::ostream_sink_mt>(out)) {}

  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    std::istringstream in{out.str()};
    for (std::string line; std::getline(in, line);)
      result.push_back(line);
    return result;
  }
};

} // namespace

TEST_SUITE("nodes.log") {
  TEST_CASE("a JSON line carries the record's fields") {
    auto line = format_json_line(at_ten({.level = log_level::warning,
                                         .node = "a",
                                         .incarnation = "de_1",
                                         .event = "renewal_failed",
                                         .message = "lease renewal failed",
                                         .execution_id = "te_7",
                                         .task_id = "add_one",
                                         .operation = "renew_leases",
                                         .failure = "unavailable"}));
    CHECK(line.find('\n') == std::string::npos);
    auto j = json::parse(line);
    CHECK(j["time"] == "2026-12-07T10:00:00.042Z");
    CHECK(j["level"] == "warning");
    CHECK(j["node"] == "a");
    CHECK(j["incarnation"] == "de_1");
    CHECK(j["event"] == "renewal_failed");
    CHECK(j["message"] == "lease renewal failed");
    CHECK(j["execution_id"] == "te_7");
    CHECK(j["task_id"] == "add_one");
    CHECK(j["operation"] == "renew_leases");
    CHECK(j["failure"] == "unavailable");
  }

  TEST_CASE("a JSON line leaves out the fields a record does not have") {
    auto j = json::parse(format_json_line(at_ten(
      {.node = "a", .incarnation = "-", .event = "stopped", .message = ""})));
    CHECK(j.size() == 6);
    CHECK(j["event"] == "stopped");
    CHECK(j["message"] == "");
    CHECK_FALSE(j.contains("execution_id"));
    CHECK_FALSE(j.contains("failure"));
  }

  TEST_CASE("quotes, newlines and bytes that are not UTF-8 stay in one JSON "
            "line") {
    const std::string message = "said \"no\"\nthen\tleft \\ \xff end";
    auto line = format_json_line(at_ten({.node = "a",
                                         .incarnation = "de_1",
                                         .event = "http",
                                         .message = message}));
    CHECK(line.find('\n') == std::string::npos);
    auto j = json::parse(line);
    CHECK(j["message"] == "said \"no\"\nthen\tleft \\ \xef\xbf\xbd end");
  }

  TEST_CASE("a text line keeps the layout the operators' tools read") {
    auto line = format_text_line(at_ten({.level = log_level::warning,
                                         .node = "a",
                                         .incarnation = "de_1",
                                         .event = "renewal_failed",
                                         .message = "failed\ntwice",
                                         .execution_id = "te_7",
                                         .operation = "renew_leases",
                                         .failure = "unavailable"}));
    CHECK(line
          == "2026-12-07T10:00:00.042Z warning node=a incarnation=de_1 "
             "renewal_failed operation=renew_leases failure=\"unavailable\" "
             "execution=te_7 failed\\ntwice");
  }

  TEST_CASE("an engine event names its execution's task and trace context") {
    constexpr auto tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"
                        "01";
    const engine_event e{.kind = engine_event::type::lease_lost,
                         .message = "execution te_9 lost its lease",
                         .execution_id = "te_9",
                         .task_id = "charge",
                         .traceparent = tp};
    captured_log json_log{log_level::info, log_format::json};
    json_log.log.event(e);
    auto lines = json_log.lines();
    REQUIRE(lines.size() == 1);
    auto j = json::parse(lines[0]);
    CHECK(j["execution_id"] == "te_9");
    CHECK(j["task_id"] == "charge");
    CHECK(j["traceparent"] == tp);
    CHECK(j["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");

    captured_log text_log{log_level::info, log_format::text};
    text_log.log.event(e);
    REQUIRE(text_log.lines().size() == 1);
    CHECK(text_log.lines()[0].find(" execution=te_9 task=charge traceparent="
                                   + std::string{tp}
                                   + " execution te_9 lost its lease")
          != std::string::npos);
  }

  TEST_CASE("records below the level are not written") {
    captured_log c{log_level::warning, log_format::text};
    c.log.debug("noise", "debug {}", 1);
    c.log.info("started", "info {}", 2);
    c.log.warning("slow", "warning {}", 3);
    c.log.error("failed", "error {}", 4);
    c.log.event({.kind = engine_event::type::leadership,
                 .level = engine_event::severity::info,
                 .message = "now the leader"});
    c.log.event({.kind = engine_event::type::lease_lost,
                 .level = engine_event::severity::warning,
                 .message = "handed back",
                 .execution_id = "te_9"});
    auto lines = c.lines();
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].find(" warning node=a incarnation=de_1 slow warning 3")
          != std::string::npos);
    CHECK(lines[1].find(" error node=a incarnation=de_1 failed error 4")
          != std::string::npos);
    CHECK(lines[2].find(" lease_lost execution=te_9 handed back")
          != std::string::npos);
    CHECK_FALSE(c.log.enabled(log_level::info));
    CHECK(c.log.enabled(log_level::error));
  }

  TEST_CASE("at trace every level is written, as JSON lines with the "
            "incarnation set later") {
    captured_log c{log_level::trace, log_format::json};
    c.log.log(log_level::trace, "tick", "{}", "t");
    c.log.set_incarnation("de_2");
    c.log.debug("noise", "d");
    c.log.event({.kind = engine_event::type::store_failure,
                 .level = engine_event::severity::error,
                 .message = "refused",
                 .operation = "apply",
                 .execution_id = "te_3",
                 .failure = durable::store_failure::fatal});
    auto lines = c.lines();
    REQUIRE(lines.size() == 3);
    auto first = json::parse(lines[0]);
    CHECK(first["level"] == "trace");
    CHECK(first["incarnation"] == "de_1");
    CHECK(std::regex_match(
      first["time"].get<std::string>(),
      std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"}));
    CHECK(json::parse(lines[1])["incarnation"] == "de_2");
    auto event = json::parse(lines[2]);
    CHECK(event["level"] == "error");
    CHECK(event["event"] == "store_failure");
    CHECK(event["operation"] == "apply");
    CHECK(event["execution_id"] == "te_3");
    CHECK(event["failure"] == "fatal");
  }

  TEST_CASE("log levels and formats are parsed by name") {
    using durable::nodes::parse_log_format;
    using durable::nodes::parse_log_level;
    CHECK(parse_log_level("warning") == log_level::warning);
    CHECK(parse_log_level("warn") == log_level::warning);
    CHECK(parse_log_level("trace") == log_level::trace);
    CHECK_FALSE(parse_log_level("INFO"));
    CHECK(parse_log_format("json") == log_format::json);
    CHECK_FALSE(parse_log_format("logfmt"));
  }
}
