#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"
#include "http/process.hpp"
#include "http/test_node.hpp"
#include "support/pg_fixture.hpp"

using namespace durable::test::http;
namespace pgt = durable::test::pg;
namespace pgs = durable::storage::pg;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A schema of our own, dropped at the end.
struct schema_guard {
  std::string name = pgt::unique_schema();
  ~schema_guard() {
    pgt::drop_schema(name);
  }
};

} // namespace

TEST_SUITE("pg.durablectl") {
  TEST_CASE("durablectl migrates a PostgreSQL schema") {
    schema_guard schema;
    auto url = pgt::url();
    auto first = run_process(DURABLECTL,
                             {"--pg", url, "--schema", schema.name, "migrate"});
    INFO("stderr: " << first.err);
    REQUIRE(first.exit_code == 0);
    const auto latest = std::to_string(pgs::latest_schema_version());
    CHECK(has(first.out, "at version " + latest));
    CHECK(has(first.out, latest + " migration(s) applied"));
    auto again = run_process(DURABLECTL, {"--pg", url, "--schema", schema.name,
                                          "migrate", "--json"});
    REQUIRE(again.exit_code == 0);
    auto j = json::parse(again.out);
    CHECK(j["applied"] == 0);
    CHECK(j["version"] == pgs::latest_schema_version());
  }

  TEST_CASE("durablectl refuses to read a schema it would have to migrate") {
    schema_guard schema;
    auto url = pgt::url();
    auto r = run_process(DURABLECTL, {"--pg", url, "--schema", schema.name,
                                      "show", "ex_missing"});
    INFO("stdout: " << r.out << " stderr: " << r.err);
    CHECK(r.exit_code == 1);
    CHECK(has(r.err, "is at version 0"));
    CHECK(has(r.err, "durablectl migrate"));
    // Nothing was created: the schema is still unmigrated.
    pqxx::connection c{url};
    CHECK(pgs::schema_version(c, schema.name) == 0);
  }

  TEST_CASE("durablectl reads and cancels straight from PostgreSQL") {
    schema_guard schema;
    auto url = pgt::url();
    test_node node{{},
                   durable::storage::pg::postgres(pgt::options(schema.name))};
    auto c = node.client();
    auto done = enqueue(c, "fan_out", 2);
    wait_finished(c, done);
    auto blocked = enqueue(c, "blocker", nullptr);
    auto ctl = [&](std::vector<std::string> args) {
      std::vector<std::string> all{"--schema", schema.name};
      all.insert(all.end(), args.begin(), args.end());
      return run_process(DURABLECTL, all, {{"DURABLE_PG_URL", url}});
    };
    auto list = ctl({"list"});
    INFO("stderr: " << list.err);
    REQUIRE(list.exit_code == 0);
    CHECK(has(list.out, done));
    CHECK(has(list.out, blocked));
    auto page = json::parse(ctl({"list", "--task", "echo", "--json"}).out);
    CHECK(page["executions"].size() == 2);
    auto tree = ctl({"show", done, "--tree"});
    REQUIRE(tree.exit_code == 0);
    CHECK(has(tree.out, done + " fan_out [completed]"));
    CHECK(has(tree.out, "└─ "));
    auto shown = json::parse(ctl({"show", done, "--json"}).out);
    CHECK(shown["children_summary"]["by_status"]["completed"] == 2);
    auto stats = json::parse(ctl({"stats", "--json"}).out);
    CHECK(stats["total"] == 4);
    auto cancel = ctl({"cancel", blocked});
    INFO("stderr: " << cancel.err);
    REQUIRE(cancel.exit_code == 0);
    CHECK(has(cancel.out, blocked + " cancelled"));
    CHECK(node.exec().get(blocked).status
          == durable::execution_status::cancelled);
    auto missing = ctl({"show", "te_missing"});
    CHECK(missing.exit_code == 3);
    auto enqueue_pg = ctl({"enqueue", "echo", "1"});
    CHECK(enqueue_pg.exit_code == 2);
    CHECK(has(enqueue_pg.err, "--url"));
    auto bad = run_process(
      DURABLECTL, {"--pg", "postgresql://nobody@127.0.0.1:1/x", "stats"});
    CHECK(bad.exit_code == 1);
    CHECK_FALSE(bad.err.empty());
  }

} // TEST_SUITE
