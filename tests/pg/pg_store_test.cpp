#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <latch>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "durable/error.hpp"
#include "durable/storage/pg/error_mapping.hpp"
#include "durable/storage/pg/outbox.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/transitions.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/pg_fixture.hpp"

using namespace std::chrono_literals;
using namespace durable;
namespace pgs = durable::storage::pg;
namespace tpg = durable::test::pg;
namespace conformance = durable::test::conformance;

namespace {

/// A store on its own schema, dropped at the end of the test.
struct schema_guard {
  std::string name = tpg::unique_schema();

  ~schema_guard() {
    try {
      tpg::drop_schema(name);
    } catch (...) {
    }
  }
};

execution_record make_row(durable::store& s, std::string id,
                          std::string task = "task_a") {
  task_options opts;
  opts.id = task;
  opts.timeout = 10s;
  auto r = make_execution(std::move(task), task_kind::task, opts, "null",
                          s.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  // Due a little in the past: now() estimates the server clock to within
  // the round trip, and claims compare with the server's now().
  r.start_at -= 1s;
  return r;
}

execution_record make_sleeper(durable::store& s, std::string id,
                              std::string sleeping_id) {
  task_options opts;
  opts.id = "sleeper";
  opts.timeout = 60s;
  auto r = make_execution("sleeper", task_kind::sleeping, opts, "null",
                          s.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  r.sleeping_id = std::move(sleeping_id);
  return r;
}

claim_request claim_req(std::string owner, std::size_t limit,
                        std::vector<std::string> tasks = {"task_a"}) {
  claim_request req;
  req.owner = std::move(owner);
  req.lease = 30s;
  req.limit = limit;
  req.task_ids = std::move(tasks);
  return req;
}

/// The SQL of the store's prepared statement `name` (fails the test if the
/// store prepares none by that name).
std::string statement_sql(pgs::pg_store& pg, const std::string& name) {
  for (const auto& [prepared, sql] : pg.internals().statements)
    if (prepared == name)
      return sql;
  FAIL("no prepared statement " << name);
  return {};
}

int migrations_rows(const std::string& schema) {
  pqxx::connection c{tpg::url()};
  pqxx::nontransaction tx{c};
  return tx
    .exec1("SELECT count(*) FROM " + pgs::quote_ident(schema)
           + ".schema_migrations")[0]
    .as<int>();
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const durable::error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string{"not a durable::error: "} + e.what();
  }
  return {};
}

/// Options for a store on `schema` whose `pool_size` server sessions
/// terminate_backends() can find by their application name.
pgs::pg_options killable_options(const std::string& schema,
                                 std::size_t pool_size) {
  auto opts = tpg::options(schema);
  opts.application_name = "durable_kill_" + schema;
  opts.pool_size = pool_size;
  return opts;
}

/// Terminates the server sessions of `application_name` (a store's pool,
/// as a server restart would); returns how many there were.
std::size_t terminate_backends(const std::string& application_name) {
  pqxx::connection admin{tpg::url()};
  pqxx::nontransaction tx{admin};
  return tx
    .exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> "
                 "pg_backend_pid() AND application_name = $1",
                 application_name)
    .size();
}

} // namespace

TEST_SUITE("pg.schema") {
  TEST_CASE("the codec's columns are the table's, with the same types") {
    // A field added to execution_fields.hpp without a migration adding its
    // column(s) fails here; so does a migration without the field.
    schema_guard g;
    { pgs::pg_store s{tpg::options(g.name)}; }
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    auto rows = tx.exec_params(
      "SELECT column_name, format_type(a.atttypid, a.atttypmod) "
      "FROM information_schema.columns i "
      "JOIN pg_attribute a ON a.attrelid = (quote_ident(i.table_schema) || "
      "'.executions')::regclass AND a.attname = i.column_name "
      "WHERE i.table_schema = $1 AND i.table_name = 'executions' "
      "ORDER BY i.ordinal_position",
      g.name);
    std::vector<std::string> table;
    for (const auto& row : rows)
      table.push_back(row[0].as<std::string>() + " "
                      + row[1].as<std::string>());
    std::vector<std::string> codec;
    for (const auto& col : pgs::columns())
      codec.push_back(std::string{col.name} + " " + std::string{col.type});
    CHECK_EQ(table, codec);
  }

  TEST_CASE("migrations are idempotent and recorded once per version") {
    schema_guard g;
    { pgs::pg_store first{tpg::options(g.name)}; }
    pgs::pg_store second{tpg::options(g.name)};
    CHECK(migrations_rows(g.name) == pgs::latest_schema_version());
    pqxx::connection c{tpg::url()};
    CHECK(pgs::migrate(c, g.name) == 0);
    CHECK(pgs::schema_version(c, g.name) == pgs::latest_schema_version());
    CHECK(migrations_rows(g.name) == pgs::latest_schema_version());
    // The store still works on the schema it found.
    auto r = make_row(second, "te_x");
    CHECK(second.insert({r}).at(0).result == insert_outcome::kind::inserted);
  }

  TEST_CASE(
    "four stores starting at once on one schema apply migrations once") {
    schema_guard g;
    constexpr int n = 4;
    std::latch start{n};
    std::atomic<int> opened{0};
    std::vector<std::string> errors(n);
    std::vector<std::thread> threads;
    const auto opts = tpg::options(g.name); // fails here, not in a thread
    for (int i = 0; i < n; ++i)
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        try {
          pgs::pg_store s{opts};
          opened.fetch_add(1);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    for (auto& t : threads)
      t.join();
    for (const auto& e : errors)
      CHECK_MESSAGE(e.empty(), e);
    CHECK(opened.load() == n);
    CHECK(migrations_rows(g.name) == pgs::latest_schema_version());
  }

  TEST_CASE(
    "a schema newer than the binary is refused with a message saying so") {
    schema_guard g;
    { pgs::pg_store s{tpg::options(g.name)}; }
    tpg::exec_admin(
      "INSERT INTO " + pgs::quote_ident(g.name)
      + ".schema_migrations (version, name) VALUES (999, 'future')");
    auto msg = error_of([&] { pgs::pg_store s{tpg::options(g.name)}; });
    CHECK(msg.find("newer than this binary") != std::string::npos);
    CHECK(msg.find("999") != std::string::npos);
  }

  TEST_CASE("an unreachable server fails at start-up naming the target without "
            "the password") {
    auto opts = tpg::options();
    opts.url = "postgresql://postgres:s3cret@127.0.0.1:1/nowhere";
    auto msg = error_of([&] { pgs::pg_store s{opts}; });
    INFO(msg);
    CHECK(msg.find("cannot connect") != std::string::npos);
    CHECK(msg.find("127.0.0.1:1/nowhere") != std::string::npos);
    CHECK(msg.find("DURABLE_PG_URL") != std::string::npos);
    CHECK(msg.find("s3cret") == std::string::npos);
  }

  TEST_CASE(
    "a malformed connection string fails at start-up with a clear error") {
    auto opts = tpg::options();
    opts.url = "host=127.0.0.1 port=notaport password=hidden";
    auto msg = error_of([&] { pgs::pg_store s{opts}; });
    INFO(msg);
    CHECK(msg.find("PostgreSQL store") != std::string::npos);
    CHECK(msg.find("hidden") == std::string::npos);
    opts.url = "this is not a connection string";
    msg = error_of([&] { pgs::pg_store s{opts}; });
    CHECK(msg.find("PostgreSQL store") != std::string::npos);
  }

  TEST_CASE("redact hides passwords in URLs and key value strings") {
    CHECK(pgs::redact("postgresql://u:pw@h:5/db")
          == "postgresql://u:***@h:5/db");
    CHECK(pgs::redact("postgresql://u@h/db") == "postgresql://u@h/db");
    CHECK(pgs::redact("postgresql://h/db?password=x&sslmode=off")
          == "postgresql://h/db?password=***&sslmode=off");
    CHECK(pgs::redact("host=h password='a b' user=u")
          == "host=h password=*** user=u");
    CHECK(pgs::redact("host=h password=abc") == "host=h password=***");
  }

} // TEST_SUITE

TEST_SUITE("pg.sql") {
  TEST_CASE("array literals round-trip quotes and backslashes and unicode") {
    const std::vector<std::string> values{"plain",
                                          "",
                                          "with space",
                                          "a,b",
                                          "{braces}",
                                          "\"quoted\"",
                                          "back\\slash",
                                          "NULL",
                                          "null",
                                          "it's",
                                          "\xc3\xbc\xf0\x9f\x99\x82",
                                          "\\\"",
                                          "x}y{z"};
    pqxx::connection c{tpg::url()};
    pqxx::nontransaction tx{c};
    auto r = tx.exec_params("SELECT x, x IS NULL FROM unnest($1::text[]) "
                            "WITH ORDINALITY AS u(x, n) ORDER BY n",
                            pgs::to_array_literal(values));
    REQUIRE(r.size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      CHECK_FALSE(r[static_cast<int>(i)][1].as<bool>());
      CHECK(r[static_cast<int>(i)][0].as<std::string>() == values[i]);
    }
    auto empty = tx.exec_params1("SELECT cardinality($1::text[])",
                                 pgs::to_array_literal({}));
    CHECK(empty[0].as<int>() == 0);
  }

  TEST_CASE("claims work for task ids with SQL metacharacters") {
    auto s = tpg::make_store();
    std::vector<std::string> tasks{
      "t \"q\"", "a,b", "{x}", "back\\slash", "NULL", "it's; DROP TABLE x; --"};
    std::vector<execution_record> rows;
    for (std::size_t i = 0; i < tasks.size(); ++i)
      rows.push_back(make_row(*s, "te_" + std::to_string(i), tasks[i]));
    rows.push_back(make_row(*s, "te_other", "other"));
    s->insert(rows);
    auto res = s->claim(claim_req("owner", 100, tasks));
    auto ids = std::set<std::string>{};
    for (auto& r : res.claimed)
      ids.insert(r.id);
    CHECK(ids.size() == tasks.size());
    CHECK_FALSE(ids.contains("te_other"));
  }

  TEST_CASE(
    "payloads and ids with quotes and unicode survive claim and apply") {
    auto s = tpg::make_store();
    std::string id = "te_'\"\\ \xe6\x97\xa5 ; --";
    auto r = make_row(*s, id);
    r.input = R"({"q":"it's \"x\"","b":"\\","u":"\u00fc"})";
    s->insert({r});
    auto c = s->claim(claim_req("own'er\"", 10));
    REQUIRE(c.claimed.size() == 1);
    auto row = c.claimed[0];
    CHECK(row.id == id);
    CHECK(row.input == r.input);
    CHECK(row.owner == std::optional<std::string>{"own'er\""});
    transition t;
    t.next = row;
    t.expected_version = row.version;
    t.next.status = execution_status::failed;
    t.next.error = execution_error{error_kind::generic,
                                   "bad 'thing' \"x\" \\ \xf0\x9f\x99\x82",
                                   false, false};
    t.next.output = "\"\\u0000 not a nul\"";
    auto out = s->apply({t});
    REQUIRE(out.at(0).status == write_status::applied);
    auto back = s->get(id);
    REQUIRE(back.has_value());
    CHECK(back->error == t.next.error);
    CHECK(back->output == t.next.output);
  }

  TEST_CASE(
    "control characters in payloads survive a batch insert and a batch apply") {
    auto s = tpg::make_store();
    std::vector<execution_record> rows;
    for (int i = 0; i < 3; ++i) {
      auto r = make_row(*s, "te_ctl_" + std::to_string(i));
      r.input = std::string{"\"line\n\ttab\x01\x1f\x7f "} + "\xc3\xa9\"";
      rows.push_back(r);
    }
    s->insert(rows);
    auto c = s->claim(claim_req("owner_a", 10));
    REQUIRE(c.claimed.size() == 3);
    std::vector<transition> ts;
    for (auto& row : c.claimed) {
      CHECK(row.input == rows[0].input);
      transition t;
      t.next = row;
      t.expected_version = row.version;
      t.next.status = execution_status::completed;
      t.next.output = std::string{"out\r\n\b\f\x02"} + row.id;
      ts.push_back(t);
    }
    ts[1].expected_version += 7; // a stale writer: conflicts, the others apply
    auto out = s->apply(ts);
    REQUIRE(out.size() == 3);
    CHECK(out[0].status == write_status::applied);
    CHECK(out[1].status == write_status::conflict);
    CHECK(out[2].status == write_status::applied);
    for (std::size_t i : {std::size_t{0}, std::size_t{2}}) {
      auto back = s->get(ts[i].next.id);
      REQUIRE(back.has_value());
      CHECK(back->output == ts[i].next.output);
      CHECK(back->version == ts[i].expected_version + 1);
      CHECK(out[i].current->output == back->output);
      CHECK(out[i].current->version == back->version);
      CHECK(out[i].current->lease_expires_at == back->lease_expires_at);
    }
    REQUIRE(out[1].current.has_value());
    CHECK(out[1].current->status == execution_status::running);
    CHECK(out[1].current->version == c.claimed[1].version);
  }

  TEST_CASE(
    "a NUL in an error message is dropped instead of failing the batch") {
    auto s = tpg::make_store();
    s->insert({make_row(*s, "te_nul_a"), make_row(*s, "te_nul_b")});
    auto c = s->claim(claim_req("owner_a", 10));
    REQUIRE(c.claimed.size() == 2);
    std::vector<transition> ts;
    for (auto& row : c.claimed) {
      transition t;
      t.next = row;
      t.expected_version = row.version;
      t.next.status = execution_status::failed;
      t.next.error = execution_error{error_kind::generic,
                                     std::string{"bad\0byte", 8}, false, false};
      ts.push_back(t);
    }
    auto out = s->apply(ts);
    REQUIRE(out.size() == 2);
    for (const auto& o : out) {
      CHECK(o.status == write_status::applied);
      auto back = s->get(o.current->id);
      REQUIRE(back.has_value());
      CHECK(back->status == execution_status::failed);
      CHECK(back->error->message == "badbyte");
    }
  }

  TEST_CASE("a renewal reads its node's rows with an index scan") {
    // A bitmap scan never marks the index entries of finished rows dead and
    // walked all of them on every renewal; PostgreSQL prefers one for a busy
    // node's rows (impl::renewal_settings).
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    std::vector<execution_record> rows;
    std::vector<std::string> tasks;
    for (int i = 0; i < 20; ++i)
      tasks.push_back("task_" + std::to_string(i));
    for (int i = 0; i < 20000; ++i)
      rows.push_back(
        make_row(*store, "te_" + std::to_string(i), tasks[i % 20]));
    store->insert(std::move(rows));
    REQUIRE(store->claim(claim_req("node_a", 5000, tasks)).claimed.size()
            == 5000);
    tpg::exec_admin("ANALYZE " + pgs::quote_ident(pg.schema()) + ".executions");
    const auto renew_sql = statement_sql(pg, "durable_renew");
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    tx.exec(pgs::pg_store::impl::renewal_settings);
    tx.exec("PREPARE renew AS " + renew_sql);
    // After five executions PostgreSQL may plan it generically.
    for (auto mode : {"force_custom_plan", "force_generic_plan"}) {
      tx.exec(std::string{"SET LOCAL plan_cache_mode = "} + mode);
      std::string plan;
      for (const auto& row :
           tx.exec("EXPLAIN EXECUTE renew('node_a', 30000000, NULL)"))
        plan += std::string{row[0].c_str()} + "\n";
      INFO(mode, "\n", plan);
      CHECK(plan.find("executions_owner") != std::string::npos);
      CHECK(plan.find("Bitmap") == std::string::npos);
      CHECK(plan.find("Seq Scan on executions") == std::string::npos);
    }
    // And the renewal itself renews all 5000.
    CHECK(store->renew_leases("node_a", 30s).size() == 5000);
  }

  TEST_CASE("the sleeper scan reads only the sleepers index") {
    // Statistics sampled while no row ran (running rows are a sliver of a
    // large table) made PostgreSQL serve `status = 'running'` from the status
    // index and read every running row on every scan (schema.cpp, migration
    // 7).
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    std::vector<execution_record> rows;
    for (int i = 0; i < 20000; ++i) {
      auto r = make_row(*store, "te_done_" + std::to_string(i));
      r.status = execution_status::completed;
      rows.push_back(std::move(r));
    }
    store->insert(std::move(rows));
    tpg::exec_admin("ANALYZE " + pgs::quote_ident(pg.schema()) + ".executions");
    // Now 3,000 rows run, unknown to the statistics, and one sleeper sleeps.
    rows.clear();
    for (int i = 0; i < 3000; ++i)
      rows.push_back(make_row(*store, "te_run_" + std::to_string(i)));
    auto sleeper = make_sleeper(*store, "te_sleeper", "sleep_1");
    REQUIRE(sleeper.expires_at.has_value());
    const auto deadline = *sleeper.expires_at;
    rows.push_back(std::move(sleeper));
    store->insert(std::move(rows));
    REQUIRE(store->claim(claim_req("node_a", 3000)).claimed.size() == 3000);
    const auto scan_sql = statement_sql(pg, "durable_scan");
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    tx.exec("PREPARE scan AS " + scan_sql);
    for (auto mode : {"force_custom_plan", "force_generic_plan"}) {
      tx.exec(std::string{"SET LOCAL plan_cache_mode = "} + mode);
      std::string plan;
      for (const auto& row : tx.exec("EXPLAIN EXECUTE scan(100, NULL)"))
        plan += std::string{row[0].c_str()} + "\n";
      INFO(mode, "\n", plan);
      CHECK(plan.find("executions_sleepers") != std::string::npos);
      CHECK(plan.find("executions_status_created") == std::string::npos);
      CHECK(plan.find("Seq Scan on executions") == std::string::npos);
    }
    // And the scan, through that index, finds the sleeper's deadline.
    auto scan = store->scan_sleepers(100);
    CHECK(scan.expired.empty());
    REQUIRE(scan.next_deadline.has_value());
    CHECK(*scan.next_deadline == deadline);
  }

  TEST_CASE("prune finds roots by the finished roots index and trees by "
            "the parent index") {
    // 20,000 rows: 2,000 old finished roots with four finished children
    // each, and 10,000 unfinished rows. A prune must read neither the
    // children nor the live rows to find its roots.
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    const auto now = store->now();
    std::vector<execution_record> rows;
    for (int i = 0; i < 2000; ++i) {
      auto root = make_row(*store, "te_root_" + std::to_string(i));
      root.status = i % 2 ? execution_status::completed
                          : execution_status::failed;
      root.finished_at = now - 2h + std::chrono::seconds{i};
      for (std::uint32_t k = 0; k < 4; ++k) {
        auto c = make_row(*store, root.id + "_" + std::to_string(k));
        c.parent = parent_link{root.task_id, root.id, k, false, false};
        c.root = root.root;
        c.status = execution_status::completed;
        c.finished_at = root.finished_at;
        rows.push_back(std::move(c));
      }
      rows.push_back(std::move(root));
    }
    for (int i = 0; i < 10000; ++i)
      rows.push_back(make_row(*store, "te_live_" + std::to_string(i)));
    store->insert(std::move(rows));
    const auto table = pgs::quote_ident(pg.schema()) + ".executions";
    tpg::exec_admin("ANALYZE " + table);
    const auto cutoff = std::to_string(to_micros(now - 1h));
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    tx.exec(pgs::prune_settings);
    for (bool by_task : {false, true}) {
      auto sql = pgs::prune_statement(table, by_task, false);
      std::string plan;
      auto explained = by_task ? tx.exec_params("EXPLAIN " + sql, "completed",
                                                cutoff, "100", "task_a")
                               : tx.exec_params("EXPLAIN " + sql, "completed",
                                                cutoff, "100");
      for (const auto& row : explained)
        plan += std::string{row[0].c_str()} + "\n";
      INFO(plan);
      CHECK(plan.find("executions_finished_roots") != std::string::npos);
      CHECK(plan.find("executions_parent") != std::string::npos);
      CHECK(plan.find("Seq Scan on executions") == std::string::npos);
    }
    tx.abort();
    // And it removes the trees, 100 roots (500 rows) per call.
    prune_request req;
    req.statuses = {execution_status::completed};
    req.finished_before = now - 1h;
    req.limit = 100;
    auto out = store->prune(req);
    CHECK(out.roots == 100);
    CHECK(out.rows == 500);
  }

  TEST_CASE("the claim query uses indexes on a large table") {
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    std::vector<execution_record> rows;
    rows.reserve(20000);
    for (int i = 0; i < 20000; ++i) {
      auto r = make_row(*store, "te_" + std::to_string(i),
                        "task_" + std::to_string(i % 20));
      if (i % 3 == 0)
        r.status = execution_status::completed;
      rows.push_back(std::move(r));
    }
    store->insert(std::move(rows));
    auto table = pgs::quote_ident(pg.schema()) + ".executions";
    tpg::exec_admin("ANALYZE " + table);
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    auto plan_of = [&](const std::string& sql, auto&&... args) {
      std::string plan;
      for (const auto& row : tx.exec_params("EXPLAIN " + sql, args...))
        plan += std::string{row[0].c_str()} + "\n";
      return plan;
    };
    auto plan = plan_of(pg.internals().claim_sql,
                        pgs::to_array_literal({"task_1", "task_2"}), 50, "me",
                        30000000, nullptr);
    INFO(plan);
    CHECK(plan.find("Seq Scan on executions") == std::string::npos);
    CHECK(plan.find("executions_ready") != std::string::npos);
    // Expired leases: an owner's rows by owner, released rows by task; never
    // every running row (a bitmap scan of a status index).
    CHECK(plan.find("executions_owner") != std::string::npos);
    CHECK(plan.find("executions_unowned") != std::string::npos);
    CHECK(plan.find("executions_status_created") == std::string::npos);
    CHECK(plan.find("Merge Anti Join") == std::string::npos);
    // After five executions PostgreSQL may plan a prepared statement
    // generically (for no values in particular): that plan must use the
    // indexes too.
    tx.exec("PREPARE claim AS " + pg.internals().claim_sql);
    tx.exec("SET LOCAL plan_cache_mode = force_generic_plan");
    auto generic = plan_of(
      "EXECUTE claim(" + tx.quote(pgs::to_array_literal({"task_1", "task_2"}))
      + ", 50, 'me', 30000000, NULL)");
    INFO(generic);
    CHECK(generic.find("Seq Scan on executions") == std::string::npos);
    CHECK(generic.find("executions_ready") != std::string::npos);
    CHECK(generic.find("executions_owner") != std::string::npos);
    CHECK(generic.find("executions_unowned") != std::string::npos);
    CHECK(generic.find("executions_status_created") == std::string::npos);
    auto renew = plan_of("UPDATE " + table
                           + " SET lease_expires_at = 1 WHERE "
                             "owner = $1 AND status IN ('ready', 'running', "
                             "'waiting_for_children', 'waiting_for_finalize')",
                         "me");
    INFO(renew);
    CHECK(renew.find("executions_owner") != std::string::npos);
    auto kids = plan_of("SELECT id FROM " + table + " WHERE parent_id = $1",
                        "te_1");
    CHECK(kids.find("executions_parent") != std::string::npos);
    // The unique indexes hold only rows with a sleeping id or key (migration
    // 5); an equality implies NOT NULL, so lookups still use them.
    auto sleeper = plan_of(
      "SELECT id FROM " + table + " WHERE sleeping_id = $1", "s");
    INFO(sleeper);
    CHECK(sleeper.find("executions_sleeping_id") != std::string::npos);
    CHECK(sleeper.find("executions_sleeping_id_key") == std::string::npos);
    auto conflicts = plan_of(pg.internals().conflicts_sql,
                             pgs::to_array_literal({"te_1"}),
                             pgs::to_array_literal({"s"}),
                             pgs::to_array_literal({"k"}));
    INFO(conflicts);
    CHECK(conflicts.find("executions_sleeping_id") != std::string::npos);
    CHECK(conflicts.find("executions_idempotency_key") != std::string::npos);
    CHECK(conflicts.find("executions_idempotency_key_key")
          == std::string::npos);
    CHECK(conflicts.find("Seq Scan on executions") == std::string::npos);
  }

} // TEST_SUITE

TEST_SUITE("pg.store") {
  TEST_CASE(
    "a duplicate sleeping id in a batch insert fails only its own row") {
    auto s = tpg::make_store();
    s->insert({make_sleeper(*s, "te_s0", "wake")});
    auto out = s->insert(
      {make_row(*s, "te_a"), make_sleeper(*s, "te_s1", "wake"),
       make_sleeper(*s, "te_s2", "fresh"), make_sleeper(*s, "te_s3", "fresh"),
       make_row(*s, "te_b")});
    REQUIRE(out.size() == 5);
    using kind = insert_outcome::kind;
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::duplicate_sleeping_id);
    CHECK(out[1].execution_id == "te_s0");
    CHECK(out[2].result == kind::inserted);
    CHECK(out[3].result == kind::duplicate_sleeping_id);
    CHECK(out[3].execution_id == "te_s2");
    CHECK(out[4].result == kind::inserted);
    CHECK(s->get("te_a").has_value());
    CHECK(s->get("te_b").has_value());
    CHECK_FALSE(s->get("te_s1").has_value());
  }

  TEST_CASE(
    "a renewal renews free rows at once and waits only for rows in flight") {
    schema_guard g;
    pgs::pg_store s{tpg::options(g.name)};
    s.insert({make_row(s, "te_a"), make_row(s, "te_b"), make_row(s, "te_c")});
    REQUIRE(s.claim(claim_req("me", 10)).claimed.size() == 3);
    const auto before = s.get("te_c")->lease_expires_at.value();
    // Another transaction holds te_a and te_b, as a transition in flight
    // would: it finishes te_b and leaves te_a as it was.
    pqxx::connection holder_conn{tpg::url()};
    pqxx::work holder{holder_conn};
    const auto table = pgs::quote_ident(g.name) + ".executions";
    holder.exec("SELECT id FROM " + table
                + " WHERE id IN ('te_a', 'te_b') ORDER BY id FOR UPDATE");
    holder.exec("UPDATE " + table
                + " SET status = 'completed', owner = NULL, lease_expires_at "
                  "= NULL WHERE id = 'te_b'");
    std::vector<std::string> renewed;
    std::atomic<bool> done{false};
    std::thread renewal{[&] {
      renewed = s.renew_leases("me", 60s);
      done = true;
    }};
    // te_c is renewed while the holder still holds the others (under the
    // old single statement it waited for them: this would time out).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    bool moved = false;
    while (!moved && std::chrono::steady_clock::now() < deadline) {
      moved = s.get("te_c")->lease_expires_at.value() > before;
      if (!moved)
        std::this_thread::sleep_for(10ms);
    }
    CHECK(moved);
    CHECK_FALSE(done.load());
    holder.commit();
    renewal.join();
    std::sort(renewed.begin(), renewed.end());
    CHECK(renewed == std::vector<std::string>{"te_a", "te_c"});
    CHECK(s.get("te_a")->lease_expires_at.value() > before);
    CHECK(s.get("te_a")->version == 1);
    CHECK_FALSE(s.get("te_b")->lease_expires_at.has_value());
  }

  TEST_CASE("a due row another transaction holds locked is skipped and "
            "reported as next ready, so that the engine claims again") {
    // A waiter marking a new row `watched` holds its lock for a moment;
    // the claim its announcement started skipped it (SKIP LOCKED) and said
    // nothing, so it waited for the poll.
    schema_guard g;
    pgs::pg_store s{tpg::options(g.name)};
    auto row = make_row(s, "te_locked");
    s.insert({row});
    pqxx::connection other{tpg::url()};
    pqxx::work hold{other};
    hold.exec("SELECT 1 FROM " + pgs::quote_ident(g.name)
              + ".executions WHERE id = 'te_locked' FOR UPDATE");
    auto skipped = s.claim(claim_req("owner", 10));
    CHECK(skipped.claimed.empty());
    REQUIRE(skipped.next_ready_at.has_value());
    CHECK(*skipped.next_ready_at == row.start_at);
    CHECK(*skipped.next_ready_at <= s.now());
    hold.commit();
    auto taken = s.claim(claim_req("owner", 10));
    REQUIRE(taken.claimed.size() == 1);
    CHECK(taken.claimed.front().id == "te_locked");
    // Nothing left: nothing to report.
    CHECK_FALSE(taken.next_ready_at.has_value());
  }

  TEST_CASE("the next ready row is the earliest one the claim did not take") {
    schema_guard g;
    pgs::pg_store s{tpg::options(g.name)};
    auto now = s.now();
    std::vector<execution_record> rows;
    for (int i = 0; i < 3; ++i) {
      rows.push_back(make_row(s, "te_due_" + std::to_string(i)));
      rows.back().start_at = now - std::chrono::seconds{3 - i};
    }
    auto later = make_row(s, "te_later");
    later.start_at = now + 1h;
    rows.push_back(later);
    s.insert(rows);
    auto first = s.claim(claim_req("owner", 2));
    CHECK(first.claimed.size() == 2);
    REQUIRE(first.next_ready_at.has_value());
    CHECK(*first.next_ready_at == rows[2].start_at); // due, left by the limit
    auto second = s.claim(claim_req("owner", 2));
    CHECK(second.claimed.size() == 1);
    REQUIRE(second.next_ready_at.has_value());
    CHECK(*second.next_ready_at == later.start_at);
  }

  TEST_CASE("two stores racing claims take every row exactly once") {
    schema_guard g;
    pgs::pg_store a{tpg::options(g.name)};
    pgs::pg_store b{tpg::options(g.name)};
    constexpr int total = 3000;
    std::vector<execution_record> rows;
    for (int i = 0; i < total; ++i)
      rows.push_back(make_row(a, "te_" + std::to_string(i)));
    a.insert(std::move(rows));
    std::vector<std::string> got_a, got_b;
    std::vector<execution_record> rows_a, rows_b;
    std::latch start{2};
    auto worker = [&](pgs::pg_store& s, std::string owner,
                      std::vector<std::string>& got,
                      std::vector<execution_record>& claimed) {
      start.arrive_and_wait();
      for (;;) {
        auto res = s.claim(claim_req(owner, 25));
        if (res.claimed.empty())
          return;
        for (auto& r : res.claimed) {
          got.push_back(r.id);
          claimed.push_back(r);
        }
      }
    };
    auto t0 = std::chrono::steady_clock::now();
    std::thread ta{worker, std::ref(a), "owner_a", std::ref(got_a),
                   std::ref(rows_a)};
    std::thread tb{worker, std::ref(b), "owner_b", std::ref(got_b),
                   std::ref(rows_b)};
    ta.join();
    tb.join();
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - t0)
                  .count();
    MESSAGE("claimed " << total << " rows in " << secs << " s (" << total / secs
                       << " rows/s, batches of 25)");
    std::multiset<std::string> all(got_a.begin(), got_a.end());
    all.insert(got_b.begin(), got_b.end());
    CHECK(all.size() == std::size_t{total});
    CHECK(std::set<std::string>(all.begin(), all.end()).size() == all.size());
    CHECK_FALSE(got_a.empty());
    CHECK_FALSE(got_b.empty());
    // Completing them, 50 transitions per apply batch.
    t0 = std::chrono::steady_clock::now();
    std::size_t applied = 0;
    for (std::size_t i = 0; i < rows_a.size(); i += 50) {
      std::vector<transition> batch;
      for (auto j = i; j < std::min(rows_a.size(), i + 50); ++j) {
        transition t;
        t.next = rows_a[j];
        t.expected_version = t.next.version;
        t.next.status = execution_status::completed;
        t.next.output = "1";
        batch.push_back(std::move(t));
      }
      for (auto& o : a.apply(std::move(batch)))
        applied += o.status == write_status::applied ? 1 : 0;
    }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
             .count();
    CHECK(applied == rows_a.size());
    MESSAGE("applied " << applied << " transitions in " << secs << " s ("
                       << applied / secs << " /s, batches of 50)");
  }

  TEST_CASE("now is close to the server clock") {
    auto s = tpg::make_store();
    pqxx::connection c{tpg::url()};
    pqxx::nontransaction tx{c};
    auto before = s->now();
    auto server = from_micros(
      tx.exec1("SELECT (extract(epoch from clock_timestamp()) * 1000000)"
               "::bigint")[0]
        .as<std::int64_t>());
    auto after = s->now();
    CHECK(server >= before - 50ms);
    CHECK(server <= after + 50ms);
  }

  TEST_CASE("now() does no I/O and the next call that uses a connection "
            "refreshes the clock offset") {
    // The engine reads now() on CAF scheduler threads (store.hpp, Clock).
    schema_guard g;
    auto opts = tpg::options(g.name);
    opts.clock_refresh = 1ms;
    pgs::pg_store s{opts};
    auto& in = s.internals();
    const auto measured = in.offset_measured_ns.load();
    std::this_thread::sleep_for(5ms);
    for (int i = 0; i < 10; ++i)
      (void)s.now();
    CHECK(in.offset_measured_ns.load() == measured);
    (void)s.get("no_such_execution");
    CHECK(in.offset_measured_ns.load() > measured);
  }

  TEST_CASE("the store recovers after its backends are terminated") {
    schema_guard g;
    auto opts = killable_options(g.name, 3);
    pgs::pg_store s{opts};
    s.insert({make_row(s, "te_1"), make_row(s, "te_2"), make_row(s, "te_3")});
    // Open every pooled connection, so that all of them die below.
    {
      std::vector<std::thread> ts;
      for (int i = 0; i < 3; ++i)
        ts.emplace_back([&] {
          for (int j = 0; j < 20; ++j)
            s.get("te_1");
        });
      for (auto& t : ts)
        t.join();
    }
    auto kill = [&] { return terminate_backends(opts.application_name); };
    CHECK(kill() >= 1);
    auto c = s.claim(claim_req("owner", 1));
    CHECK(c.claimed.size() == 1);
    CHECK(kill() >= 1);
    CHECK(s.get("te_1").has_value());
    CHECK(kill() >= 1);
    auto out = s.insert({make_row(s, "te_4")});
    CHECK(out.at(0).result == insert_outcome::kind::inserted);
    kill();
    transition t;
    t.next = c.claimed[0];
    t.expected_version = t.next.version;
    t.next.status = execution_status::completed;
    CHECK(s.apply({t}).at(0).status == write_status::applied);
    kill();
    CHECK(s.renew_leases("owner", 1min).size() == 0);
    CHECK(s.claim(claim_req("owner", 10)).claimed.size() == 3);
  }

  TEST_CASE("a batch of completions goes through a dead pooled connection") {
    schema_guard g;
    auto opts = killable_options(g.name, 1);
    pgs::pg_store s{opts};
    s.insert({make_row(s, "te_1"), make_row(s, "te_2")});
    auto claimed = s.claim(claim_req("owner", 2)).claimed;
    REQUIRE(claimed.size() == 2);
    // The one pooled connection dies while idle, as in a server restart;
    // the store learns it only from the batch's own statement.
    REQUIRE(terminate_backends(opts.application_name) == 1);
    std::vector<transition> ts;
    for (const auto& row : claimed) {
      transition t;
      t.next = row;
      t.expected_version = row.version;
      t.next.status = execution_status::completed;
      t.next.owner.reset();
      t.next.lease_expires_at.reset();
      t.next.finished_at = s.now();
      ts.push_back(t);
    }
    auto out = s.apply(ts);
    REQUIRE(out.size() == 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
      INFO(claimed[i].id);
      CHECK(out[i].status == write_status::applied);
      CHECK(s.get(claimed[i].id)->status == execution_status::completed);
      CHECK(s.get(claimed[i].id)->version == claimed[i].version + 1);
    }
  }

  TEST_CASE("an insert in a caller transaction exists only if it commits") {
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    pqxx::connection c{tpg::url()};
    {
      pqxx::work tx{c};
      auto out = pgs::insert_in(pg, tx, {make_row(pg, "te_rolled_back")});
      REQUIRE(out.size() == 1);
      CHECK(out[0].result == insert_outcome::kind::inserted);
      tx.abort();
    }
    CHECK_FALSE(store->get("te_rolled_back").has_value());
    {
      pqxx::work tx{c};
      auto a = make_row(pg, "te_committed");
      a.idempotency_key = "order-1";
      auto b = make_row(pg, "te_second");
      b.idempotency_key = "order-1";
      auto out = pgs::insert_in(pg, tx, {a, b});
      REQUIRE(out.size() == 2);
      CHECK(out[0].result == insert_outcome::kind::inserted);
      CHECK(out[1].result == insert_outcome::kind::duplicate_key);
      CHECK(out[1].execution_id == "te_committed");
      // The caller's own statement in the same transaction still works.
      tx.exec("SELECT 1");
      tx.commit();
    }
    auto got = store->get("te_committed");
    REQUIRE(got.has_value());
    CHECK(got->idempotency_key == std::optional<std::string>{"order-1"});
    CHECK(store->claim(claim_req("me", 10)).claimed.size() == 1);
  }

} // TEST_SUITE

TEST_SUITE("pg.errors") {
  TEST_CASE("in doubt errors are never classified as retryable") {
    using pgs::failure_kind;
    auto kind_of = [](auto e) {
      return pgs::classify(std::make_exception_ptr(e)).kind;
    };
    CHECK(kind_of(pqxx::in_doubt_error("x")) == failure_kind::in_doubt);
    CHECK(kind_of(pqxx::statement_completion_unknown("x"))
          == failure_kind::in_doubt);
    CHECK(kind_of(pqxx::serialization_failure("x")) == failure_kind::conflict);
    CHECK(kind_of(pqxx::deadlock_detected("x")) == failure_kind::conflict);
    CHECK(kind_of(pqxx::broken_connection("x")) == failure_kind::reconnect);
    CHECK(kind_of(pqxx::sql_error("x", "q", "57P01"))
          == failure_kind::reconnect);
    CHECK(kind_of(pqxx::sql_error("x", "q", "08006"))
          == failure_kind::reconnect);
    CHECK(kind_of(pqxx::unique_violation("x", "q", "23505"))
          == failure_kind::fatal);
    CHECK(kind_of(pqxx::syntax_error("x", "q", "42601"))
          == failure_kind::fatal);
    auto f = pgs::classify(std::make_exception_ptr(
      pqxx::sql_error("secret SQL text", "SELECT secret", "42P01")));
    CHECK(f.what.find("secret") == std::string::npos);
    CHECK(f.what.find("42P01") != std::string::npos);
  }

} // TEST_SUITE

TEST_SUITE("pg.corruption") {
  TEST_CASE(
    "the row decoder rejects a retry multiplier it cannot have written") {
    // No server needed: decode() takes the column texts.
    execution_record r;
    r.id = "te_mult";
    r.task_id = "task_a";
    r.root = {"task_a", "te_mult"};
    r.retry.multiplier = 1.5;
    struct texts_of : pgs::column_visitor {
      std::array<std::optional<std::string>, pgs::column_count> texts;
      void value(std::size_t i, std::string_view t) override {
        texts[i] = std::string{t};
      }
      void null(std::size_t i) override {
        texts[i].reset();
      }
    } out;
    pgs::encode(r, pgs::column_set{}.set(), out);
    auto decode_with = [&](std::optional<std::string> multiplier) {
      auto texts = out.texts;
      texts[pgs::column_index("retry_multiplier")] = std::move(multiplier);
      pgs::column_texts view;
      for (std::size_t i = 0; i < texts.size(); ++i)
        if (texts[i])
          view[i] = std::string_view{*texts[i]};
      return pgs::decode(view);
    };
    CHECK(decode_with("1.5").retry.multiplier == 1.5);
    CHECK(decode_with("2").retry.multiplier == 2.0);
    for (const char* bad :
         {"Infinity", "-Infinity", "NaN", "1e999", "abc", "2x", ""})
      CHECK_THROWS_AS(decode_with(std::string{bad}), std::runtime_error);
    CHECK_THROWS_AS(decode_with(std::nullopt), std::runtime_error);
  }

  TEST_CASE(
    "a claimed row that cannot be decoded fails and the rest are claimed") {
    schema_guard g;
    pgs::pg_store store{tpg::options(g.name)};
    auto good = make_row(store, "te_good");
    auto bad = make_row(store, "te_bad");
    bad.start_at -= 1s; // claimed first
    store.insert({good, bad});
    {
      pqxx::connection c{tpg::url()};
      pqxx::work tx{c};
      tx.exec0(
        "UPDATE " + g.name
        + ".executions SET children = '[{\"nope\": 1}]' WHERE id = 'te_bad'");
      tx.commit();
    }
    conformance::event_recorder rec{store};
    auto res = store.claim({"de_owner", 10s, 10, {"task_a"}});
    rec.unsubscribe();
    const auto corrupt = rec.of(store_event::type::corrupt);
    REQUIRE(res.claimed.size() == 1);
    CHECK(res.claimed[0].id == "te_good");
    // This process's listeners hear of it (the executor tells its observer).
    REQUIRE(corrupt.size() == 1);
    CHECK(corrupt[0].execution_id == "te_bad");
    CHECK(corrupt[0].detail.find("marked failed") != std::string::npos);
    auto failed = store.get("te_bad");
    REQUIRE(failed.has_value());
    CHECK(failed->status == execution_status::failed);
    REQUIRE(failed->error.has_value());
    CHECK(failed->error->message.rfind("Corrupt stored execution: ", 0) == 0);
    CHECK_FALSE(failed->error->retryable);
    // It is never claimed again.
    CHECK(store.claim({"de_owner", 10s, 10, {"task_a"}}).claimed.empty());
  }

  TEST_CASE("claims go on past stored numbers a claim would overflow with and "
            "those rows fail") {
    // One row with a huge timeout made every claim statement that met it
    // fail ("bigint out of range"), on every node. Planted behind the
    // store's back, next to good rows of the same task, due before them.
    schema_guard g;
    pgs::pg_store store{tpg::options(g.name)};
    auto timeout = make_row(store, "te_timeout");
    auto version = make_row(store, "te_version");
    auto recoveries = make_row(store, "te_recoveries");
    for (auto* r : {&timeout, &version, &recoveries})
      r->start_at -= 1s;
    // A running row of a dead owner: the take-over adds a recovery.
    recoveries.status = execution_status::running;
    recoveries.owner = "de_dead";
    recoveries.lease_expires_at = recoveries.start_at;
    store.insert({make_row(store, "te_a"), timeout, version, recoveries,
                  make_row(store, "te_b")});
    {
      pqxx::connection c{tpg::url()};
      pqxx::work tx{c};
      const auto t = g.name + ".executions";
      tx.exec0("UPDATE " + t
               + " SET timeout_ms = 9223372036854775807 "
                 "WHERE id = 'te_timeout'");
      tx.exec0("UPDATE " + t
               + " SET version = 9223372036854775807 "
                 "WHERE id = 'te_version'");
      tx.exec0("UPDATE " + t
               + " SET recoveries = 2147483647 "
                 "WHERE id = 'te_recoveries'");
      tx.commit();
    }
    conformance::event_recorder rec{store};
    auto res = store.claim(claim_req("de_owner", 10));
    rec.unsubscribe();
    const auto corrupt = rec.of(store_event::type::corrupt);
    std::vector<std::string> claimed;
    for (const auto& r : res.claimed)
      claimed.push_back(r.id);
    CHECK(claimed == std::vector<std::string>{"te_a", "te_b"});
    const std::vector<std::pair<std::string, std::string>> expected{
      {"te_timeout", "timeout_ms 9223372036854775807 is out of range "
                     "(1..31536000000)"},
      {"te_version", "version 9223372036854775807 is out of range "
                     "(0..9007199254740991)"},
      {"te_recoveries", "recoveries 2147483647 is out of range "
                        "(0..2147483646)"}};
    std::set<std::string> announced;
    for (const auto& e : corrupt) {
      announced.insert(e.execution_id);
      CHECK(e.detail.find("marked failed") != std::string::npos);
    }
    CHECK(
      announced
      == std::set<std::string>{"te_timeout", "te_version", "te_recoveries"});
    for (const auto& [id, problem] : expected) {
      CAPTURE(id);
      auto failed = store.get(id);
      REQUIRE(failed.has_value());
      CHECK(failed->status == execution_status::failed);
      REQUIRE(failed->error.has_value());
      CHECK(failed->error->message
            == "Stored execution is invalid: " + problem);
      CHECK_FALSE(failed->error->retryable);
      CHECK_FALSE(failed->owner.has_value());
    }
    // Never claimed again, and claims keep working.
    CHECK(store.claim(claim_req("de_owner", 10)).claimed.empty());
  }

} // TEST_SUITE

TEST_SUITE("pg.apply_faults") {
  TEST_CASE("a transition the server refuses fails alone and its batch-mates "
            "are written") {
    // A trigger raises on one row of the batch, as invalid bytes or a check
    // would: the batch's statement fails as a whole, and apply() writes the
    // others one at a time.
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    std::vector<execution_record> rows;
    for (int i = 0; i < 6; ++i)
      rows.push_back(make_row(*store, "rf_" + std::to_string(i)));
    store->insert(std::move(rows));
    auto claimed = store->claim(claim_req("node_a", 10)).claimed;
    REQUIRE(claimed.size() == 6);
    const auto schema = pgs::quote_ident(pg.schema());
    tpg::exec_admin("CREATE FUNCTION " + schema
                    + ".poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                      "IF NEW.output = '\"poison\"' THEN RAISE EXCEPTION "
                      "'poisoned row %', NEW.id; END IF; RETURN NEW; END $$");
    tpg::exec_admin("CREATE TRIGGER poison BEFORE UPDATE ON " + schema
                    + ".executions FOR EACH ROW EXECUTE FUNCTION " + schema
                    + ".poison()");
    SUBCASE("plain transitions") {}
    SUBCASE("with a transition that inserts a child") {
      auto& spawner = claimed.front();
      REQUIRE(spawner.id != "rf_3");
      task_options opts;
      opts.id = "task_a";
      opts.timeout = 10s;
      auto kid = transitions::make_child(spawner, "task_a", task_kind::task,
                                         opts, "null", 0, 1, false,
                                         store->now());
      std::vector<transition> one;
      one.push_back(transitions::wait_for_children(spawner, std::nullopt, {kid},
                                                   store->now()));
      REQUIRE(store->apply(std::move(one))[0].status == write_status::applied);
      spawner = *store->get(spawner.id);
    }
    std::vector<transition> ts;
    for (auto& r : claimed) {
      if (r.status == execution_status::waiting_for_children)
        ts.push_back(
          transitions::finish(r, execution_status::failed, std::nullopt,
                              error::non_retryable("x").info(), store->now()));
      else
        ts.push_back(transitions::complete(
          r, r.id == "rf_3" ? "\"poison\"" : "1", store->now()));
    }
    auto out = store->apply(std::move(ts));
    REQUIRE(out.size() == claimed.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto& id = claimed[i].id;
      CAPTURE(id);
      if (id == "rf_3") {
        CHECK(out[i].status == write_status::refused);
        CHECK(out[i].reason.find("SQLSTATE P0001") != std::string::npos);
        REQUIRE(out[i].current.has_value());
        CHECK(out[i].current->status == execution_status::running);
        CHECK(out[i].current->version == claimed[i].version);
      } else {
        CHECK(out[i].status == write_status::applied);
        CHECK(store->get(id)->is_finished());
      }
    }
    CHECK(store->get("rf_3")->status == execution_status::running);
  }

  TEST_CASE("an insert whose commit is in doubt is settled: each row stored "
            "once and reported inserted") {
    // The reply to COMMIT is lost (the hook throws what libpqxx throws then),
    // once the server committed or before it did. Either way the insert
    // tells the truth: every row stored exactly once and reported inserted,
    // not an error the caller would answer by enqueuing again.
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    bool committed = false;
    SUBCASE("the server committed") {
      committed = true;
    }
    SUBCASE("the server did not commit") {
      committed = false;
    }
    int losses = 1;
    pg.internals().commit_hook = [&](const char* op, bool after) {
      if (std::string_view{op} == "insert" && after == committed
          && losses > 0) {
        --losses;
        throw pqxx::in_doubt_error("connection lost during COMMIT (test)");
      }
    };
    auto keyed = make_row(*store, "id_keyed");
    keyed.idempotency_key = "key_1";
    std::vector<execution_record> rows{make_row(*store, "id_plain"), keyed};
    auto out = store->insert(rows);
    pg.internals().commit_hook = nullptr;
    CHECK(losses == 0); // the loss happened
    REQUIRE(out.size() == 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
      CAPTURE(rows[i].id);
      CHECK(out[i].result == insert_outcome::kind::inserted);
      CHECK(out[i].execution_id == rows[i].id);
      CHECK(store->get(rows[i].id).has_value());
    }
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    CHECK(tx.exec1("SELECT count(*) FROM " + pgs::quote_ident(pg.schema())
                   + ".executions")[0]
            .as<int>()
          == 2);
  }

} // TEST_SUITE

TEST_SUITE("pg.connections") {
  TEST_CASE("every session of the store sets its statement and idle "
            "transaction timeouts") {
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    for (auto* pool : {&pg.internals().pool, &pg.internals().lease_pool}) {
      auto c = pool->acquire();
      pqxx::nontransaction tx{*c};
      CHECK(tx.exec1("SHOW statement_timeout")[0].as<std::string>() == "1min");
      CHECK(tx.exec1("SHOW idle_in_transaction_session_timeout")[0]
              .as<std::string>()
            == "10s");
    }
  }

  TEST_CASE("connection strings get TCP keepalives unless they set their "
            "own") {
    pgs::pg_options o;
    CHECK(pgs::with_keepalives("postgresql://u@h:5433/db", o)
          == "postgresql://u@h:5433/db?keepalives=1&keepalives_idle=10&"
             "keepalives_interval=5&keepalives_count=3");
    CHECK(pgs::with_keepalives("postgresql://u@h/db?sslmode=disable", o)
          == "postgresql://u@h/db?sslmode=disable&keepalives=1&"
             "keepalives_idle=10&keepalives_interval=5&keepalives_count=3");
    CHECK(pgs::with_keepalives("host=h dbname=db", o)
          == "host=h dbname=db keepalives=1 keepalives_idle=10 "
             "keepalives_interval=5 keepalives_count=3");
    CHECK(pgs::with_keepalives("", o)
          == "keepalives=1 keepalives_idle=10 keepalives_interval=5 "
             "keepalives_count=3");
    CHECK(pgs::with_keepalives("host=h keepalives_idle=60", o)
          == "host=h keepalives_idle=60");
    o.keepalive_idle = 0s;
    CHECK(pgs::with_keepalives("host=h", o) == "host=h");
  }

  TEST_CASE("lease renewals never wait behind the store's other calls") {
    // Every pooled connection is busy (a burst of reads, a slow commit):
    // the renewal still runs, on the connection kept for leases.
    auto store = tpg::make_store({}, 1);
    auto& pg = static_cast<pgs::pg_store&>(*store);
    store->insert({make_row(*store, "rn_1")});
    REQUIRE(store->claim(claim_req("node_a", 1)).claimed.size() == 1);
    std::optional<pgs::connection_pool::lease> busy{
      pg.internals().pool.acquire()};
    auto renewed = std::async(std::launch::async, [&] {
      return store->renew_leases("node_a", 30s);
    });
    const bool answered = renewed.wait_for(20s) == std::future_status::ready;
    busy.reset(); // lets a renewal stuck in the pool finish either way
    REQUIRE_MESSAGE(answered, "the renewal waited for a pooled connection");
    CHECK(renewed.get() == std::vector<std::string>{"rn_1"});
    CHECK(store->try_lead("maintenance", "node_a", 30s));
  }

  TEST_CASE("a call that finds every connection busy fails as unavailable "
            "after reconnect_timeout") {
    schema_guard g;
    auto o = tpg::options(g.name);
    o.pool_size = 1;
    o.reconnect_timeout = 300ms;
    pgs::pg_store store{o};
    std::optional<pgs::connection_pool::lease> busy{
      store.internals().pool.acquire()};
    auto read = std::async(std::launch::async, [&] {
      try {
        store.get("nothing");
      } catch (const store_error& e) {
        return e.failure();
      }
      return store_failure::fatal;
    });
    const bool answered = read.wait_for(20s) == std::future_status::ready;
    busy.reset();
    REQUIRE_MESSAGE(answered, "the call waited for a connection without end");
    CHECK(read.get() == store_failure::unavailable);
  }

} // TEST_SUITE

TEST_SUITE("pg.cascade") {
  TEST_CASE("a cancel cascade reaches grandchildren inserted while it runs") {
    // A child's node stores the child's own children while the root is
    // cancelled: its transaction holds the child's row, the cascade waits
    // for it, then cancels the child. The grandchildren it inserted came
    // after the cascade's first snapshot and must be cancelled too.
    auto store = tpg::make_store();
    auto& pg = static_cast<pgs::pg_store&>(*store);
    const auto table = pgs::quote_ident(pg.schema()) + ".executions";
    auto root = make_row(*store, "cc_root");
    root.kind = task_kind::parent;
    store->insert({root});
    auto r = store->claim(claim_req("node_a", 1)).claimed.at(0);
    task_options opts;
    opts.id = "task_a";
    opts.timeout = 10s;
    auto child = transitions::make_child(r, "task_a", task_kind::task, opts,
                                         "null", 0, 1, false, store->now());
    child.id = "cc_child";
    child.start_at -= 1s;
    REQUIRE(store
              ->apply({transitions::wait_for_children(r, std::nullopt, {child},
                                                      store->now())})[0]
              .status
            == write_status::applied);
    r = *store->get("cc_root");
    REQUIRE(store->claim(claim_req("node_b", 1)).claimed.at(0).id
            == "cc_child");
    pqxx::connection conn{tpg::url()};
    pqxx::work tx{conn};
    tx.exec("UPDATE " + table
            + " SET status = 'waiting_for_children', version = version + 1 "
              "WHERE id = 'cc_child'");
    tx.exec("CREATE TEMP TABLE g ON COMMIT DROP AS SELECT * FROM " + table
            + " WHERE id = 'cc_child'");
    tx.exec("UPDATE g SET id = 'cc_grandchild', parent_id = 'cc_child', "
            "status = 'ready', owner = NULL, lease_expires_at = NULL, "
            "version = 1");
    tx.exec("INSERT INTO " + table + " SELECT * FROM g");
    auto cancel = std::async(std::launch::async, [&] {
      return store->apply({transitions::cancel(r, store->now())});
    });
    // The cascade now waits for the child's row; let it start waiting.
    std::this_thread::sleep_for(500ms);
    tx.commit();
    REQUIRE(cancel.wait_for(20s) == std::future_status::ready);
    auto out = cancel.get();
    REQUIRE(out.at(0).status == write_status::applied);
    CHECK(store->get("cc_child")->status == execution_status::cancelled);
    CHECK(store->get("cc_grandchild")->status == execution_status::cancelled);
  }

} // TEST_SUITE
