// Several durable-node processes on one PostgreSQL schema (or, built with
// DURABLE_CLUSTER_MYSQL, one MySQL/MariaDB database), driven by this test
// process as a client (an executor that claims nothing). Real processes,
// real signals: SIGKILL, SIGSTOP/SIGCONT, SIGTERM.
//
// The cases check what was done (nothing lost, nothing run twice, work
// finished after a kill or a freeze), never how fast, so they hold on
// both stores (MySQL announces commits across processes through a polled
// events table, PostgreSQL through NOTIFY).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "example_tasks.hpp"
#include "support/child_process.hpp"
#include "support/temp_dir.hpp"

#ifdef DURABLE_CLUSTER_MYSQL
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "support/mysql_fixture.hpp"
#define CLUSTER_SUITE "cluster.mysql"
#else
#include <pqxx/pqxx>

#include "durable/storage/pg/pg_store.hpp"
#include "support/pg_fixture.hpp"
#define CLUSTER_SUITE "cluster"
#endif

#ifndef DURABLE_NODE_BINARY
#error "DURABLE_NODE_BINARY must name the durable-node binary"
#endif

namespace {

using namespace std::chrono_literals;
using durable::test::child_process;
using durable::test::clock_type;
namespace ex = durable::examples;

/// Hang guard for anything a test waits on: generous for a loaded machine.
constexpr auto hang_guard = 180s;

#ifdef DURABLE_CLUSTER_MYSQL

namespace tmy = durable::test::mysql;

/// A MySQL/MariaDB database of the cluster's own on the server of
/// DURABLE_MYSQL_URL, dropped at the end.
class cluster_store {
public:
  cluster_store()
    : database_(tmy::unique_database()), opts_(tmy::options(database_)) {}

  ~cluster_store() {
    try {
      tmy::exec_admin("DROP DATABASE IF EXISTS `" + database_ + "`");
    } catch (...) {
    }
  }

  /// durable-node's flags for this store.
  std::vector<std::string> node_args() const {
    return {"--store", "mysql", "--mysql-url", opts_.url};
  }

  /// durablectl's flags for this store.
  std::vector<std::string> ctl_args() const {
    return {"--mysql", opts_.url};
  }

  std::shared_ptr<durable::store> open() const {
    return durable::storage::mysql(opts_);
  }

  /// Ids of the rows `owner` holds with a running body now.
  std::vector<std::string> running_on(const std::string& owner) const {
    namespace detail = durable::storage::mysql_detail;
    detail::connection c{detail::parse_url(opts_.url), opts_};
    auto q = c.prepare("SELECT id FROM executions WHERE owner = ?1 AND "
                       "status = 1 AND kind = 0");
    q.bind(1, owner);
    std::vector<std::string> ids;
    while (q.step())
      ids.push_back(q.text(0));
    return ids;
  }

private:
  std::string database_;
  durable::storage::mysql_options opts_;
};

#else

namespace tpg = durable::test::pg;

/// A PostgreSQL schema of the cluster's own on the server of
/// DURABLE_PG_URL, dropped at the end.
class cluster_store {
public:
  cluster_store() : schema_(tpg::unique_schema()) {}

  ~cluster_store() {
    try {
      tpg::drop_schema(schema_);
    } catch (...) {
    }
  }

  /// durable-node's flags for this store.
  std::vector<std::string> node_args() const {
    return {"--store",     "postgres", "--pg-url",  tpg::url(),
            "--pg-schema", schema_,    "--pg-pool", "3"};
  }

  /// durablectl's flags for this store.
  std::vector<std::string> ctl_args() const {
    return {"--pg", tpg::url(), "--schema", schema_};
  }

  std::shared_ptr<durable::store> open() const {
    return durable::storage::pg::postgres(tpg::options(schema_));
  }

  /// Ids of the rows `owner` holds with a running body now.
  std::vector<std::string> running_on(const std::string& owner) const {
    pqxx::connection c{tpg::url()};
    pqxx::nontransaction tx{c};
    auto r = tx.exec_params(
      "SELECT id FROM " + c.quote_name(schema_)
        + ".executions WHERE owner = $1 AND status = 'running' AND kind = 0",
      owner);
    std::vector<std::string> ids;
    for (const auto& row : r)
      ids.emplace_back(row[0].c_str());
    return ids;
  }

private:
  std::string schema_;
};

#endif

/// One store, the nodes on it, and a client executor.
class cluster {
public:
  cluster() {
    dir_ = durable::test::make_temp_dir("durable-cluster-");
  }

  ~cluster() {
    client_.reset();
    store_.reset();
    nodes_.clear();
  }

  /// Starts a node and waits for its ready line; returns its incarnation.
  std::string start_node(const std::string& name,
                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args = db_.node_args();
    args.insert(args.end(), {"--name", name, "--max-concurrent", "6",
                             "--worker-threads", "8", "--scheduler-threads",
                             "2", "--lease-ms", "2000", "--renew-ms", "400",
                             "--poll-ms", "250", "--grace-ms", "20000"});
    // `extra` is flag/value pairs; a flag given there replaces its default.
    for (std::size_t i = 0; i + 1 < extra.size(); i += 2) {
      auto it = std::find(args.begin(), args.end(), extra[i]);
      if (it != args.end())
        *(it + 1) = extra[i + 1];
      else
        args.insert(args.end(), {extra[i], extra[i + 1]});
    }
    auto node = std::make_unique<child_process>(
      DURABLE_NODE_BINARY, std::move(args),
      durable::test::child_stderr{.path = dir_ + "/" + name + ".log"});
    auto line = node->line_starting_with("ready ",
                                         clock_type::now() + hang_guard);
    REQUIRE_MESSAGE(line.has_value(), "node " << name << " did not start");
    auto pos = line->find("incarnation=");
    REQUIRE(pos != std::string::npos);
    auto end = line->find(' ', pos);
    if (auto gw = line->find("gateway_port="); gw != std::string::npos)
      gateway_ports_[name] = std::stoi(line->substr(gw + 13));
    if (auto hp = line->find("http_port="); hp != std::string::npos)
      http_ports_[name] = std::stoi(line->substr(hp + 10));
    nodes_[name] = std::move(node);
    return line->substr(pos + 12, end - pos - 12);
  }

  /// The gateway port `name` reported (-1: no gateway).
  int gateway_port(const std::string& name) {
    return gateway_ports_.at(name);
  }

  /// The HTTP API port `name` reported (-1: no API).
  int http_port(const std::string& name) {
    return http_ports_.at(name);
  }

  child_process& node(const std::string& name) {
    return *nodes_.at(name);
  }

  /// The client: registers the example tasks (to enqueue and wake them)
  /// but runs none of them.
  durable::executor& client() {
    if (!client_) {
      store_ = db_.open();
      client_ = std::make_unique<durable::executor>(
        store_,
        durable::executor_options{.scheduler_threads = 2, .run_tasks = false});
      tasks_ = ex::register_example_tasks(*client_, "client");
    }
    return *client_;
  }

  const ex::example_tasks& tasks() {
    client();
    return tasks_;
  }

  durable::store& store() {
    client();
    return *store_;
  }

  /// Ids of the rows `owner` holds with a running body now.
  std::vector<std::string> running_on(const std::string& owner) {
    return db_.running_on(owner);
  }

  /// Runs durablectl straight against the store with `args`; returns its
  /// exit code and its output (stderr merged).
  std::pair<int, std::string> durablectl(std::vector<std::string> args) {
    auto all = db_.ctl_args();
    all.insert(all.end(), args.begin(), args.end());
    child_process ctl{DURABLECTL, std::move(all),
                      durable::test::child_stderr{.merge = true}};
    std::string out;
    for (const auto& line : ctl.rest(clock_type::now() + hang_guard))
      out += line + "\n";
    return {ctl.join(), out};
  }

  /// Waits until `owner` runs at least one body; returns their ids.
  std::vector<std::string> wait_running_on(const std::string& owner) {
    const auto deadline = clock_type::now() + hang_guard;
    while (clock_type::now() < deadline) {
      if (auto ids = running_on(owner); !ids.empty())
        return ids;
      std::this_thread::sleep_for(20ms);
    }
    FAIL("no body ever ran on " << owner);
    return {};
  }

private:
  // Declared first, destroyed last: after the nodes and the client.
  cluster_store db_;
  std::string dir_;
  std::map<std::string, std::unique_ptr<child_process>> nodes_;
  std::map<std::string, int> gateway_ports_;
  std::map<std::string, int> http_ports_;
  std::shared_ptr<durable::store> store_;
  std::unique_ptr<durable::executor> client_;
  ex::example_tasks tasks_;
};

template <class Out>
durable::finished<Out> wait(const durable::handle<Out>& h) {
  auto r = h.wait_for(std::chrono::duration_cast<durable::millis>(hang_guard));
  REQUIRE_MESSAGE(r.has_value(),
                  "execution " << h.execution_id() << " did not finish");
  return std::move(*r);
}

} // namespace

TEST_SUITE(CLUSTER_SUITE) {
  TEST_CASE("three nodes finish a mixed workload although one is killed") {
    cluster c;
    const auto doomed = c.start_node("node-a");
    c.start_node("node-b");
    c.start_node("node-c");
    auto& exec = c.client();
    const auto& t = c.tasks();

    std::vector<durable::handle<long long>> trees;
    for (int i = 0; i < 6; ++i)
      trees.push_back(exec.enqueue(t.fanout, ex::fanout_input{15, 100}));
    std::vector<durable::handle<int>> chains;
    for (int i = 0; i < 8; ++i)
      chains.push_back(exec.enqueue(t.pipeline, i * 10));
    std::vector<durable::handle<durable::loop_result<int>>> loops;
    for (int i = 1; i <= 4; ++i)
      loops.push_back(exec.enqueue(t.countdown, i + 2));
    std::vector<durable::handle<int>> squares;
    for (int i = 0; i < 24; ++i)
      squares.push_back(exec.enqueue(t.square, ex::work_input{i, 300}));
    std::vector<std::string> approvals;
    std::vector<durable::handle<std::string>> sleepers;
    for (int i = 0; i < 4; ++i) {
      approvals.push_back("approval-" + std::to_string(i) + "-"
                          + exec.incarnation());
      sleepers.push_back(exec.enqueue(t.approval, approvals.back()));
    }

    // Kill node-a while it runs bodies.
    c.wait_running_on(doomed);
    c.node("node-a").kill_hard();
    // What it still held once its last commits (sent before the kill) have
    // landed: a body may have finished between the look and the kill.
    std::this_thread::sleep_for(200ms);
    auto lost = c.running_on(doomed);
    REQUIRE_FALSE(lost.empty());
    for (std::size_t i = 0; i < approvals.size(); ++i)
      exec.wake(t.approval, approvals[i],
                durable::completed(std::string{"yes "} + std::to_string(i)));

    for (auto& h : trees) {
      auto r = wait(h);
      REQUIRE_MESSAGE(r.ok(), h.execution_id());
      CHECK(*r.output == ex::expected_fanout(15));
      // Exactly one set of children and one finalize: a recovered parent
      // never spawns twice.
      auto kids = c.store().children_of(h.execution_id());
      CHECK(kids.size() == 16);
      std::set<std::uint32_t> indexes;
      for (const auto& k : kids) {
        CHECK(k.status == durable::execution_status::completed);
        if (!k.parent->is_finalize)
          indexes.insert(k.parent->index);
      }
      CHECK(indexes.size() == 15);
    }
    for (std::size_t i = 0; i < chains.size(); ++i) {
      auto r = wait(chains[i]);
      REQUIRE(r.ok());
      CHECK(*r.output == static_cast<int>(i) * 10 + 3);
    }
    for (std::size_t i = 0; i < loops.size(); ++i) {
      auto r = wait(loops[i]);
      REQUIRE(r.ok());
      REQUIRE(r.output->output.has_value());
      CHECK(*r.output->output == static_cast<int>(i) + 3);
    }
    for (std::size_t i = 0; i < squares.size(); ++i) {
      auto r = wait(squares[i]);
      REQUIRE(r.ok());
      CHECK(*r.output == static_cast<int>(i * i));
    }
    for (std::size_t i = 0; i < sleepers.size(); ++i) {
      auto r = wait(sleepers[i]);
      REQUIRE(r.ok());
      CHECK(*r.output == "yes " + std::to_string(i));
    }
    // What node-a ran when it died ran again elsewhere.
    for (const auto& id : lost) {
      auto row = c.store().get(id);
      REQUIRE(row.has_value());
      CHECK(row->status == durable::execution_status::completed);
      CHECK(row->recoveries >= 1);
      CHECK(row->owner != std::optional<std::string>{doomed});
    }
  }

  TEST_CASE("a frozen node loses its work and its late result is discarded") {
    cluster c;
    const auto frozen = c.start_node("node-frozen");
    auto& exec = c.client();
    auto h = exec.enqueue(c.tasks().whoami, ex::work_input{0, 4000});
    c.wait_running_on(frozen);
    c.start_node("node-live");
    c.node("node-frozen").signal(SIGSTOP);
    // node-live takes the row over once the frozen node's lease expired.
    auto r = wait(h);
    c.node("node-frozen").signal(SIGCONT);
    REQUIRE(r.ok());
    CHECK(*r.output == "node-live");
    CHECK(r.execution.recoveries == 1);
    // The frozen node's body wakes up with a stale view: whatever it does,
    // the stored result stays node-live's.
    std::this_thread::sleep_for(5s);
    auto after = c.store().get(h.execution_id());
    REQUIRE(after.has_value());
    CHECK(after->version == r.execution.version);
    CHECK(after->output == std::optional<std::string>{"\"node-live\""});
    // And the resumed node keeps serving.
    auto again = wait(exec.enqueue(c.tasks().square, ex::work_input{7, 0}));
    CHECK(*again.output == 49);
  }

  TEST_CASE("a node drained by SIGTERM loses nothing") {
    cluster c;
    const auto drained = c.start_node("node-drained");
    auto& exec = c.client();
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < 12; ++i)
      hs.push_back(exec.enqueue(c.tasks().square, ex::work_input{i, 500}));
    c.wait_running_on(drained);
    c.node("node-drained").signal(SIGTERM);
    CHECK(c.node("node-drained").join() == 0);
    // Whatever the drained node did not finish was handed back: a second
    // node finishes it, and nothing counts as a recovery.
    c.start_node("node-next");
    for (std::size_t i = 0; i < hs.size(); ++i) {
      auto r = wait(hs[i]);
      REQUIRE(r.ok());
      CHECK(*r.output == static_cast<int>(i * i));
      CHECK(r.execution.recoveries == 0);
    }
  }

  TEST_CASE("a cancel from another process stops the bodies of a whole tree") {
    cluster c;
    // Three slots: if a cancelled body kept running, its slot would stay
    // taken and the square below could never start.
    const auto runner = c.start_node("node-runner", {"--max-concurrent", "3"});
    auto& exec = c.client();
    auto tree = exec.enqueue(c.tasks().fanout, ex::fanout_input{3, 600'000});
    const auto deadline = clock_type::now() + hang_guard;
    while (c.running_on(runner).size() < 3 && clock_type::now() < deadline)
      std::this_thread::sleep_for(20ms);
    REQUIRE(c.running_on(runner).size() == 3);
    tree.cancel();
    auto r = wait(tree);
    CHECK(r.status() == durable::execution_status::cancelled);
    for (const auto& kid : c.store().children_of(tree.execution_id()))
      CHECK(kid.status == durable::execution_status::cancelled);
    auto after = wait(exec.enqueue(c.tasks().square, ex::work_input{9, 0}));
    CHECK(*after.output == 81);
  }

  TEST_CASE("a client process enqueues and waits through a node's gateway") {
    cluster c;
    c.start_node("node-gw", {"--gateway-port", "0"});
    c.start_node("node-other");
    const int port = c.gateway_port("node-gw");
    REQUIRE(port > 0);
    child_process client{DURABLE_GATEWAY_CLIENT,
                         {std::to_string(port), "run", "example_add_one", "1",
                          "41", "99"},
                         durable::test::child_stderr{.merge = true}};
    auto lines = client.rest(clock_type::now() + hang_guard);
    CHECK(client.join() == 0);
    CHECK(lines
          == std::vector<std::string>{"1 completed 2", "41 completed 42",
                                      "99 completed 100"});
    // Bad input over the gateway is refused clearly, and the node serves on.
    child_process refused{DURABLE_GATEWAY_CLIENT,
                          {std::to_string(port), "run", "no_such_task", "1"},
                          durable::test::child_stderr{.merge = true}};
    lines = refused.rest(clock_type::now() + hang_guard);
    CHECK(refused.join() == 3);
    CHECK(lines
          == std::vector<std::string>{
            "error: not_found Task not found [taskId=no_such_task]"});
    auto again = wait(
      c.client().enqueue(c.tasks().square, ex::work_input{5, 0}));
    CHECK(*again.output == 25);
  }

  TEST_CASE("durablectl enqueues and waits through a node's HTTP API") {
    cluster c;
    c.start_node("node-http", {"--http-port", "0", "--http-token", "s3cret"});
    c.start_node("node-peer");
    const int port = c.http_port("node-http");
    REQUIRE(port > 0);
    const auto url = "http://127.0.0.1:" + std::to_string(port);
    child_process ctl{DURABLECTL,
                      {"--url", url, "--token", "s3cret", "--json", "enqueue",
                       "example_fanout", R"({"n": 12, "ms": 10})", "--wait"},
                      durable::test::child_stderr{.merge = true}};
    auto lines = ctl.rest(clock_type::now() + hang_guard);
    CHECK(ctl.join() == 0);
    std::string all;
    for (const auto& l : lines)
      all += l + "\n";
    auto j = nlohmann::json::parse(all, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), all);
    CHECK(j.at("status") == "completed");
    CHECK(j.at("output") == ex::expected_fanout(12));
    // A wrong token is refused, and says so.
    child_process denied{DURABLECTL,
                         {"--url", url, "--token", "wrong", "stats"},
                         durable::test::child_stderr{.merge = true}};
    denied.rest(clock_type::now() + hang_guard);
    CHECK(denied.join() == 4);
  }

  TEST_CASE("durablectl reads, cancels and prunes straight from the store") {
    cluster c;
    // No node: the execution stays ready until durablectl cancels it.
    auto h = c.client().enqueue(c.tasks().square, ex::work_input{3, 0});
    const auto id = h.execution_id();
    auto [shown_rc, shown] = c.durablectl({"--json", "show", id});
    REQUIRE_MESSAGE(shown_rc == 0, shown);
    CHECK(nlohmann::json::parse(shown).at("status") == "ready");
    auto [cancel_rc, cancelled] = c.durablectl({"--json", "cancel", id});
    REQUIRE_MESSAGE(cancel_rc == 0, cancelled);
    CHECK(nlohmann::json::parse(cancelled).at("status") == "cancelled");
    CHECK(wait(h).status() == durable::execution_status::cancelled);
    auto [stats_rc, stats] = c.durablectl({"--json", "stats"});
    REQUIRE_MESSAGE(stats_rc == 0, stats);
    CHECK(nlohmann::json::parse(stats).at("total") == 1);
    auto [prune_rc, pruned] = c.durablectl(
      {"--json", "prune", "--older-than", "1h", "--dry-run"});
    REQUIRE_MESSAGE(prune_rc == 0, pruned);
    CHECK(nlohmann::json::parse(pruned).at("rows") == 0);
    auto [migrate_rc, migrated] = c.durablectl({"--json", "migrate"});
    REQUIRE_MESSAGE(migrate_rc == 0, migrated);
    CHECK(nlohmann::json::parse(migrated).at("version") >= 1);
    auto [missing_rc, missing] = c.durablectl({"show", "te_missing"});
    CHECK_MESSAGE(missing_rc == 3, missing);
  }

} // TEST_SUITE
