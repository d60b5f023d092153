#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/version.hpp"
#include "http/process.hpp"
#include "http/test_node.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

namespace {

constexpr const char* token = "ctl-t0ken";

/// A node with a token and a way to run durablectl against it.
struct ctl_fixture {
  test_node node{[] {
    dh::server_options o;
    o.token = token;
    return o;
  }()};

  process_result ctl(std::vector<std::string> args) {
    std::vector<std::string> all{"--url", node.url(), "--token", token};
    all.insert(all.end(), args.begin(), args.end());
    return run_process(DURABLECTL, all);
  }

  /// Runs durablectl, requires exit code 0 and returns stdout.
  std::string ok(std::vector<std::string> args) {
    auto r = ctl(std::move(args));
    INFO("stderr: " << r.err);
    INFO("stdout: " << r.out);
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// `micros` as durablectl prints times: 2026-12-07T10:00:00.042Z.
std::string durablectl_time(std::int64_t micros) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(microseconds{micros});
  const auto day = floor<days>(ms);
  const year_month_day ymd{sys_days{day}};
  const hh_mm_ss hms{ms - day};
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ",
                static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()),
                static_cast<long>(hms.seconds().count()),
                static_cast<long>(hms.subseconds().count()));
  return text;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

} // namespace

TEST_SUITE("http.durablectl") {
  TEST_CASE("durablectl --version names the build") {
    auto r = run_process(DURABLECTL, {"--version"});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.starts_with("durablectl " + std::string{durable::version()}));
    CHECK_FALSE(durable::version().empty());
  }

  TEST_CASE("durablectl enqueues and shows and waits against a node") {
    ctl_fixture f;
    auto id = trim(f.ok({"enqueue", "echo", R"({"a": 1})"}));
    CHECK(id.rfind("te_", 0) == 0);
    auto c = f.node.client(token);
    CHECK(wait_finished(c, id)["output"] == json{{"a", 1}});
    auto shown = f.ok({"show", id});
    CHECK(has(shown, "status:"));
    CHECK(has(shown, "completed"));
    CHECK(has(shown, R"({"a":1})"));
    auto j = json::parse(f.ok({"show", id, "--json"}));
    CHECK(j["execution_id"] == id);
    CHECK(j["children_summary"]["total"] == 0);
    auto waited = f.ok({"wait", id});
    CHECK(has(waited, "completed"));
    auto done = f.ok({"enqueue", "echo", "7", "--wait", "--timeout-ms", "5000",
                      "--retries", "2"});
    CHECK(has(done, "completed"));
    auto waited_json = json::parse(
      f.ok({"enqueue", "echo", "8", "--wait", "--json"}));
    CHECK(waited_json["output"] == 8);
    CHECK(waited_json["status"] == "completed");
  }

  TEST_CASE("durablectl enqueue with a key is idempotent and wait exits 5 on "
            "a failure") {
    ctl_fixture f;
    auto a = trim(f.ok({"enqueue", "echo", "1", "--idempotency-key", "k-1"}));
    auto b = trim(f.ok({"enqueue", "echo", "2", "--idempotency-key", "k-1"}));
    CHECK(a == b);
    auto r = f.ctl({"enqueue", "refuse", "--wait"});
    CHECK(r.exit_code == 5);
    CHECK(has(r.out, "failed"));
    CHECK(has(r.out, "refused"));
  }

  TEST_CASE("durablectl lists and counts executions as tables and JSON") {
    ctl_fixture f;
    auto c = f.node.client(token);
    auto x = enqueue(c, "echo", 1);
    auto y = enqueue(c, "echo", 2);
    auto z = enqueue(c, "refuse", 3);
    for (const auto& id : {x, y, z})
      wait_finished(c, id);
    auto table = f.ok({"list", "--task", "echo"});
    CHECK(has(table, "EXECUTION"));
    CHECK(has(table, x));
    CHECK(has(table, y));
    CHECK_FALSE(has(table, z));
    auto page = json::parse(f.ok({"list", "--limit", "1", "--json"}));
    REQUIRE(page["executions"].size() == 1);
    CHECK(page["executions"][0]["execution_id"] == z);
    auto cursor = page["next_cursor"].get<std::string>();
    auto next = json::parse(
      f.ok({"list", "--limit", "1", "--json", "--cursor", cursor}));
    CHECK(next["executions"][0]["execution_id"] != z);
    auto failed = f.ok({"list", "--status", "failed"});
    CHECK(has(failed, z));
    CHECK_FALSE(has(failed, x));
    // The table says why an execution failed ("refused", the body's error).
    CHECK(has(failed, "ERROR"));
    CHECK(has(failed, "refused"));
    auto stats = f.ok({"stats"});
    CHECK(has(stats, "completed"));
    CHECK(has(stats, "total"));
    auto counts = json::parse(f.ok({"stats", "--json"}));
    CHECK(counts["total"] == 3);
    CHECK(counts["by_status"]["failed"] == 1);
    CHECK(json::parse(f.ok({"stats", "--task", "echo", "--json"}))["total"]
          == 2);
  }

  TEST_CASE("durablectl list takes times as ISO-8601, as a time ago or in "
            "microseconds, and shows them as ISO-8601") {
    ctl_fixture f;
    auto c = f.node.client(token);
    auto x = enqueue(c, "echo", 1);
    wait_finished(c, x);
    CHECK(has(f.ok({"list", "--created-from", "1h"}), x));
    CHECK(has(f.ok({"list", "--created-from", "2000-01-01", "--created-before",
                    "2999-01-01T01:00:00+01:00"}),
              x));
    CHECK_FALSE(
      has(f.ok({"list", "--created-before", "2000-01-01T00:00Z"}), x));
    CHECK_FALSE(has(f.ok({"list", "--created-from", "2999-01-01"}), x));
    CHECK(has(f.ok({"list", "--created-from-us", "0"}), x));
    CHECK_FALSE(has(f.ok({"list", "--created-before-us", "0"}), x));
    auto created = json::parse(f.ok({"show", x, "--json"}))["created_at_us"];
    REQUIRE(created.is_number_integer());
    // Text shows ISO-8601; JSON keeps microseconds.
    auto shown = f.ok({"show", x});
    CHECK(has(shown, durablectl_time(created.get<std::int64_t>())));
    auto bad = f.ctl({"list", "--created-from", "last tuesday"});
    CHECK(bad.exit_code == 2);
    CHECK(has(bad.err, "\"last tuesday\" is not a time"));
    CHECK(has(bad.err, "2h"));
  }

  TEST_CASE("durablectl refuses a count out of its range in words") {
    for (auto [args, said] :
         {std::pair{std::vector<std::string>{"list", "--limit", "-3"},
                    "--limit: -3 is not a whole number (1 to 1000)"},
          std::pair{std::vector<std::string>{"list", "--limit", "1001"},
                    "--limit: 1001 is not a whole number (1 to 1000)"},
          std::pair{std::vector<std::string>{"show", "x", "--max-nodes", "-1"},
                    "--max-nodes: -1 is not a whole number (0 or more)"},
          std::pair{std::vector<std::string>{"enqueue", "echo", "--retries",
                                             "1.5"},
                    "--retries: 1.5 is not a whole number (0 or more)"}}) {
      auto r = run_process(DURABLECTL, args);
      INFO("stderr: " << r.err);
      CHECK(r.exit_code == 2);
      CHECK(has(r.err, said));
      CHECK(r.err.size() < 200);
    }
  }

  TEST_CASE("durablectl show draws the tree of a parent") {
    ctl_fixture f;
    auto c = f.node.client(token);
    auto id = enqueue(c, "fan_out", 2);
    wait_finished(c, id);
    auto tree = f.ok({"show", id, "--tree"});
    CHECK(has(tree, id + " fan_out [completed]"));
    CHECK(has(tree, "├─ "));
    CHECK(has(tree, "└─ "));
    CHECK(has(tree, "echo [completed]"));
    auto shown = f.ok({"show", id});
    CHECK(has(shown, "2 (2 completed)"));
    auto j = json::parse(f.ok({"show", id, "--tree", "--json"}));
    CHECK(j["nodes"] == 3);
  }

  TEST_CASE("durablectl cancels and wakes and retries") {
    ctl_fixture f;
    auto c = f.node.client(token);
    auto blocked = enqueue(c, "blocker", nullptr);
    auto out = f.ok({"cancel", blocked});
    CHECK(trim(out) == blocked + " cancelled");
    auto again = trim(f.ok({"retry", blocked}));
    CHECK(again != blocked);
    CHECK(body_of(c.Get(("/v1/executions/" + again).c_str()))["task_id"]
          == "blocker");
    f.ok({"cancel", again});
    auto sleeper = enqueue(c, "approval", "order-9");
    auto woken = f.ok(
      {"wake", "approval", "order-9", "--output", R"({"ok": true})"});
    CHECK(has(woken, "completed"));
    CHECK(wait_finished(c, sleeper)["output"] == json{{"ok", true}});
    enqueue(c, "approval", "order-10");
    auto failed = f.ok({"wake", "approval", "order-10", "--error", "no"});
    CHECK(has(failed, "failed"));
    auto refused = enqueue(c, "refuse", 5);
    wait_finished(c, refused);
    auto retried = json::parse(f.ok({"retry", refused, "--json"}));
    auto second = retried["execution_id"].get<std::string>();
    auto row = wait_finished(c, second);
    CHECK(row["input"] == 5);
    CHECK(row["task_id"] == "refuse");
    auto ok = enqueue(c, "echo", 1);
    wait_finished(c, ok);
    auto r = f.ctl({"retry", ok});
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, "is completed"));
  }

  TEST_CASE("durablectl cancels and retries the executions a filter "
            "chooses, after a dry run") {
    ctl_fixture f;
    auto c = f.node.client(token);
    // The first one carries a trace context, which its retry keeps.
    const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                           "00f067aa0ba902b7-01";
    auto traced = f.ok({"enqueue", "blocker", "0", "--traceparent", tp});
    std::vector<std::string> blocked{traced.substr(0, traced.find('\n'))};
    for (int i = 1; i < 3; ++i)
      blocked.push_back(enqueue(c, "blocker", i));
    CHECK(has(f.ok({"show", blocked[0]}), tp));
    auto bare = f.ctl({"cancel"});
    CHECK(bare.exit_code == 2);
    CHECK(has(bare.err, "needs an execution id, or a filter"));
    auto dry = f.ok({"cancel", "--task", "blocker", "--dry-run"});
    CHECK(has(dry, "3 would be cancelled"));
    for (const auto& id : blocked)
      CHECK(body_of(c.Get(("/v1/executions/" + id).c_str()))["status"]
            != "cancelled");
    auto done = f.ok({"cancel", "--task", "blocker"});
    CHECK(has(done, "cancelled 3 of 3 chosen (0 skipped)"));
    for (const auto& id : blocked)
      CHECK(has(done, id));
    auto retried = json::parse(
      f.ok({"retry", "--task", "blocker", "--status", "cancelled", "--json"}));
    CHECK(retried["acted"] == 3);
    int traced_retries = 0;
    for (const auto& id : retried["execution_ids"]) {
      auto row = body_of(
        c.Get(("/v1/executions/" + id.get<std::string>()).c_str()));
      CHECK(row["idempotency_key"].get<std::string>().rfind("retry-of:", 0)
            == 0);
      if (row["idempotency_key"] == "retry-of:" + blocked[0]) {
        CHECK(row["traceparent"] == tp);
        ++traced_retries;
      } else {
        CHECK_FALSE(row.contains("traceparent"));
      }
    }
    CHECK(traced_retries == 1);
    auto again = json::parse(
      f.ok({"retry", "--task", "blocker", "--status", "cancelled", "--json"}));
    CHECK(again["execution_ids"] == retried["execution_ids"]);
    // An execution of a task this node does not run is skipped alone.
    durable::task_options gone_opts;
    gone_opts.id = "gone_task";
    gone_opts.timeout = durable::millis{1000};
    auto gone = durable::make_execution("gone_task", durable::task_kind::task,
                                        gone_opts, "1",
                                        f.node.exec().storage()->now());
    gone.status = durable::execution_status::cancelled;
    gone.finished_at = gone.created_at;
    gone.closed_at = gone.created_at;
    auto stored = f.node.exec().storage()->insert({gone});
    INFO(stored.at(0).reason);
    REQUIRE(stored.at(0).result == durable::insert_outcome::kind::inserted);
    auto mixed = json::parse(
      f.ok({"retry", "--status", "cancelled", "--json"}));
    INFO(mixed.dump());
    CHECK(mixed["skipped"] == 1);
    CHECK(mixed["acted"] == 3);
    auto wrong = f.ctl({"cancel", "--status", "completed"});
    CHECK(wrong.exit_code == 2);
    CHECK(has(wrong.err, "cannot be cancelled"));
    for (const auto& id : retried["execution_ids"])
      f.ok({"cancel", id.get<std::string>()});
  }

  TEST_CASE("durablectl reports errors with clear messages and exit codes") {
    ctl_fixture f;
    auto missing = f.ctl({"show", "te_missing"});
    CHECK(missing.exit_code == 3);
    CHECK(has(missing.err, "te_missing"));
    auto unknown = f.ctl({"enqueue", "no_such_task"});
    CHECK(unknown.exit_code == 3);
    CHECK(has(unknown.err, "no_such_task"));
    auto bad_json = f.ctl({"enqueue", "echo", "{oops"});
    CHECK(bad_json.exit_code == 2);
    CHECK(has(bad_json.err, "not valid JSON"));
    auto bad_opt = f.ctl({"enqueue", "echo", "1", "--timeout-ms", "-3"});
    CHECK(bad_opt.exit_code == 2);
    CHECK(has(bad_opt.err, "timeout"));
    auto wrong = run_process(DURABLECTL, {"--url", f.node.url(), "--token",
                                          "nope", "stats"});
    CHECK(wrong.exit_code == 4);
    CHECK(has(wrong.err, "token"));
    auto anonymous = run_process(DURABLECTL, {"--url", f.node.url(), "stats"});
    CHECK(anonymous.exit_code == 4);
    auto no_target = run_process(DURABLECTL, {"stats"});
    CHECK(no_target.exit_code == 2);
    CHECK(has(no_target.err, "--url"));
    auto usage = run_process(DURABLECTL, {"frobnicate"});
    CHECK(usage.exit_code == 2);
    auto no_args = run_process(DURABLECTL, {});
    CHECK(no_args.exit_code == 2);
    auto migrate = f.ctl({"migrate"});
    CHECK(migrate.exit_code == 2);
    CHECK(has(migrate.err, "--pg"));
    auto wake_both = f.ctl(
      {"wake", "approval", "x", "--output", "1", "--error", "e"});
    CHECK(wake_both.exit_code == 2);
    // A node that is not there.
    auto port = f.node.port();
    f.node.api().stop();
    auto down = run_process(
      DURABLECTL,
      {"--url", "http://127.0.0.1:" + std::to_string(port), "stats"});
    CHECK(down.exit_code == 1);
    CHECK(has(down.err, "cannot reach the node at http://127.0.0.1:"
                          + std::to_string(port)
                          + ": the connection was refused or failed (is a node "
                            "listening there?)"));
  }

  TEST_CASE("durablectl takes the node and token from the environment") {
    ctl_fixture f;
    auto r = run_process(DURABLECTL, {"stats", "--json"},
                         {{"DURABLE_URL", f.node.url()},
                          {"DURABLE_TOKEN", token}});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(json::parse(r.out)["total"] == 0);
  }

} // TEST_SUITE
