// durable-node's logs as a real process writes them on stderr.
#include <csignal>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

namespace {

using durable::test::child_process;
using durable::test::clock_type;
using namespace std::chrono_literals;

struct node_run {
  std::string incarnation;
  std::vector<std::string> stderr_lines;
  int exit_code = -1;
};

/// Starts durable-node on the memory store with `extra` flags, waits until
/// it is ready, drains it with SIGTERM and returns what it logged.
node_run run_node(std::vector<std::string> extra) {
  const auto log_path = durable::test::make_temp_dir("durable-node-log-")
                        + "/node.log";
  std::vector<std::string> args{"--name", "logged",      "--store",
                                "memory", "--http-port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  child_process node{DURABLE_NODE_BINARY, std::move(args),
                     durable::test::child_stderr{.path = log_path}};
  auto ready = node.line_starting_with("ready ", clock_type::now() + 60s);
  REQUIRE_MESSAGE(ready.has_value(), "the node did not start");
  node_run run;
  auto pos = ready->find("incarnation=");
  REQUIRE(pos != std::string::npos);
  run.incarnation = ready->substr(pos + 12, ready->find(' ', pos) - pos - 12);
  node.signal(SIGTERM);
  run.exit_code = node.join();
  std::ifstream in{log_path};
  for (std::string line; std::getline(in, line);)
    run.stderr_lines.push_back(line);
  return run;
}

} // namespace

TEST_SUITE("nodes.log_process") {
  TEST_CASE("with --log-format json every stderr line is a JSON record") {
    auto run = run_node({"--log-format", "json", "--log-level", "debug"});
    CHECK(run.exit_code == 0);
    REQUIRE(!run.stderr_lines.empty());
    std::set<std::string> events;
    bool incarnation_known = false;
    for (const auto& line : run.stderr_lines) {
      INFO("line: " << line);
      auto j = nlohmann::json::parse(line, nullptr, false);
      REQUIRE_FALSE(j.is_discarded());
      REQUIRE(j.is_object());
      for (const char* key :
           {"time", "level", "node", "incarnation", "event", "message"})
        CHECK(j.contains(key));
      CHECK(j["node"] == "logged");
      // The engine may report an event while it starts, before the node
      // knows the incarnation it drew ("-"); never after.
      if (j["incarnation"] == run.incarnation)
        incarnation_known = true;
      else
        CHECK((j["incarnation"] == "-" && !incarnation_known));
      events.insert(j.value("event", ""));
    }
    CHECK(incarnation_known);
    // The node's own records and an engine event (the only node of its
    // store becomes its maintenance leader).
    for (const char* needed : {"started", "leadership", "draining", "stopped"})
      CHECK_MESSAGE(events.count(needed) == 1, "no record of " << needed);
  }

  TEST_CASE("text lines name the engine event between spaces, and "
            "--log-level error leaves out info") {
    auto text = run_node({});
    CHECK(text.exit_code == 0);
    bool leadership = false;
    for (const auto& line : text.stderr_lines) {
      CHECK(line.find(" node=logged incarnation=") != std::string::npos);
      leadership = leadership || line.find(" leadership ") != std::string::npos;
    }
    CHECK(leadership);
    auto quiet = run_node({"--log-level", "error"});
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.stderr_lines.empty());
  }
}
