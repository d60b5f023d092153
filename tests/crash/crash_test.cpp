// Real processes, a real SIGKILL: a worker is killed in the middle of a
// fan-out, and a second worker on the same store (a SQLite file, a
// PostgreSQL schema when built with DURABLE_CRASH_PG, or a MySQL/MariaDB
// database when built with DURABLE_CRASH_MYSQL) finishes every execution
// exactly once (see crash_worker.cpp for the workflow).
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#if defined(DURABLE_CRASH_PG)
#include "support/pg_fixture.hpp"
#elif defined(DURABLE_CRASH_MYSQL)
#include "support/mysql_fixture.hpp"
#else
#include "durable/storage/sqlite_store.hpp"
#endif
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#ifndef DURABLE_CRASH_WORKER
#error "DURABLE_CRASH_WORKER must name the durable-crash-worker binary"
#endif

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// The crash worker as a child process.
struct worker : durable::test::child_process {
  explicit worker(std::vector<std::string> args)
    : child_process(DURABLE_CRASH_WORKER, std::move(args)) {}
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// Runs the scenario on the store `url` names; `reopen` opens that store
/// in this process afterwards, to check what the workers left in it.
void crash_scenario(
  const std::string& url,
  const std::function<std::shared_ptr<durable::store>()>& reopen) {
  constexpr int children = 20;
  auto dir = durable::test::make_temp_dir("durable-crash-");
  auto log = dir + "/children.log";
  auto common = std::vector<std::string>{
    "--store",          url,    "--log",      log,
    "--lease-ms",       "1000", "--children", std::to_string(children),
    "--max-concurrent", "4"};

  // First worker: enqueue, run, and die by SIGKILL once a few children
  // finished their bodies but not all of them.
  int progress_before_kill = 0;
  pid_t first_pid = 0;
  {
    auto args = common;
    args.push_back("--enqueue");
    args.push_back("--wait");
    worker first{args};
    first_pid = first.pid();
    auto deadline = clock_type::now() + 30s;
    while (progress_before_kill < 5) {
      auto line = first.next_line(deadline);
      REQUIRE_MESSAGE(line.has_value(), "the first worker stopped early");
      if (starts_with(*line, "progress child "))
        ++progress_before_kill;
      REQUIRE_MESSAGE(!starts_with(*line, "result "),
                      "the first worker finished before the kill");
    }
    first.kill_hard();
  }
  REQUIRE(progress_before_kill < children);

  // Second worker: same file, short lease; it takes over the dead worker's
  // leases and finishes everything.
  nlohmann::json result;
  pid_t second_pid = 0;
  {
    auto args = common;
    args.push_back("--wait");
    worker second{args};
    second_pid = second.pid();
    auto deadline = clock_type::now() + 90s;
    while (auto line = second.next_line(deadline))
      if (starts_with(*line, "result "))
        result = nlohmann::json::parse(line->substr(7));
    CHECK(second.join() == 0);
  }
  INFO("result: ", result.dump());
  REQUIRE(result.is_object());
  int expected_sum = 0;
  for (int i = 0; i < children; ++i)
    expected_sum += i * 10 + 1;
  CHECK(result["crash-fanout"]["status"] == "completed");
  CHECK(result["crash-fanout"]["output"] == expected_sum);
  for (int i = 1; i <= 3; ++i) {
    auto key = "crash-twice-" + std::to_string(i);
    CHECK(result[key]["status"] == "completed");
    CHECK(result[key]["output"] == 2 * i * 7);
  }
  CHECK(result["crash-chain"]["status"] == "completed");
  CHECK(result["crash-chain"]["output"] == "<144>");

  // The store holds each child once, completed with its own output.
  auto store = reopen();
  auto root_id = result["crash-fanout"]["execution_id"].get<std::string>();
  auto kids = store->children_of(root_id);
  REQUIRE(kids.size() == children + 1); // the finalize comes last
  std::set<std::uint32_t> indexes;
  std::set<std::string> child_ids;
  for (int i = 0; i < children; ++i) {
    const auto& k = kids[i];
    INFO("child ", i, " ", k.id);
    CHECK(k.status == durable::execution_status::completed);
    CHECK(k.output
          == std::optional<std::string>{
            std::to_string(static_cast<int>(k.parent->index) * 10 + 1)});
    CHECK(k.attempt == 0);
    indexes.insert(k.parent->index);
    child_ids.insert(k.id);
  }
  CHECK(indexes.size() == children);
  CHECK(kids.back().parent->is_finalize);
  CHECK(kids.back().status == durable::execution_status::completed);

  // Bodies ran at least once per child; a second run happened only for a
  // body the first worker ran (or was running) when it died, never twice in
  // one process.
  std::ifstream in{log};
  std::map<std::string, std::vector<long>> runs;
  std::string id;
  int attempt = 0;
  long pid = 0;
  while (in >> id >> attempt >> pid)
    runs[id].push_back(pid);
  int by_second = 0;
  for (const auto& cid : child_ids) {
    INFO("child ", cid);
    REQUIRE(runs.contains(cid));
    const auto& pids = runs[cid];
    CHECK(std::set<long>(pids.begin(), pids.end()).size() == pids.size());
    for (auto p : pids) {
      CHECK((p == first_pid || p == second_pid));
      if (p == second_pid)
        ++by_second;
    }
  }
  CHECK(runs.size() == child_ids.size());
  // The kill left work behind that only the second worker could finish.
  CHECK(by_second > 0);
}

} // namespace

#if defined(DURABLE_CRASH_PG)

TEST_SUITE("storage.pg.crash") {
  TEST_CASE("a node killed mid fan-out on PostgreSQL is finished by another") {
    auto schema = durable::test::pg::unique_schema();
    crash_scenario("pg:" + schema, [&] {
      auto opts = durable::test::pg::options(schema);
      return durable::storage::pg::postgres(opts);
    });
    durable::test::pg::drop_schema(schema);
  }

} // TEST_SUITE

#elif defined(DURABLE_CRASH_MYSQL)

TEST_SUITE("storage.mysql.crash") {
  TEST_CASE("a node killed mid fan-out on MySQL is finished by another") {
    namespace tm = durable::test::mysql;
    auto database = tm::unique_database();
    auto opts = tm::options(database); // creates the database
    // No announcements across processes on MySQL yet: the second worker
    // finds the dead worker's rows by its polls (50 ms) and lease expiry.
    crash_scenario(opts.url, [&] { return durable::storage::mysql(opts); });
    tm::exec_admin("DROP DATABASE IF EXISTS `" + database + "`");
  }

} // TEST_SUITE

#else

TEST_SUITE("storage.sqlite.crash") {
  TEST_CASE("a worker killed mid fan-out is finished by a second worker once") {
    auto db = durable::test::make_temp_dir("durable-crash-db-") + "/crash.db";
    crash_scenario("sqlite:" + db,
                   [&] { return durable::storage::sqlite(db); });
  }

} // TEST_SUITE

#endif
