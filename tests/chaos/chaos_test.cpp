// The chaos tier (label `chaos`): three durable-chaos-node processes on a
// PostgreSQL server of their own, a mixed workload whose bodies record each
// run, and faults: SIGKILL of a random node every few seconds, one SIGSTOP
// past the lease, one immediate server restart and one 30 s server outage.
// Afterwards the invariants are checked by SQL on the executions table, on
// a history of its transitions (kept by a trigger this test installs) and
// on the runs the bodies recorded. See tests/README.md.
//
// Environment:
//   DURABLE_CHAOS_SECONDS  length of the fault phase (default 95: the
//                          bounded form of scripts/test.sh)
//   DURABLE_CHAOS_SEED     repeat a run (the seed is printed at the start)
//   DURABLE_CHAOS_PG_PORT  the test's own server (default 5442)
//   DURABLE_CHAOS_PG_DIR   its folder (default /tmp/durable-chaos-pg)
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "chaos/chaos_tasks.hpp"
#include "durable/durable.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "support/child_process.hpp"

#ifndef DURABLE_CHAOS_NODE
#error "DURABLE_CHAOS_NODE must name the durable-chaos-node binary"
#endif
#ifndef DURABLE_SOURCE_DIR
#error "DURABLE_SOURCE_DIR must name the source tree (for scripts/)"
#endif

namespace {

using namespace std::chrono_literals;
using durable::test::child_process;
using durable::test::clock_type;
namespace ch = durable::chaos;

// -- parameters ---------------------------------------------------------------

constexpr int lease_ms = 3000;
constexpr std::int64_t lease_us = lease_ms * 1000LL;
/// Recovery after a kill is asserted only as a hang guard.
constexpr std::int64_t recovery_guard_us = 3 * lease_us;
/// The target reported beside the measured recoveries.
constexpr std::int64_t recovery_target_us = lease_us + 2'000'000;
constexpr auto freeze_for = std::chrono::milliseconds{2 * lease_ms};
constexpr auto outage_for = 30s;
constexpr auto wave_every = 1500ms;
/// Everything the driver waits on once the faults are over.
constexpr auto settle_guard = 180s;
const std::string schema = "chaos";
const std::vector<std::string> node_names{"node-a", "node-b", "node-c"};

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string{v} : fallback;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Runs a shell command; returns its stdout (last newline trimmed) and
/// fails the test when it exits non-zero.
std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p != nullptr, "cannot run: " << cmd);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  const int rc = ::pclose(p);
  REQUIRE_MESSAGE(rc == 0, "failed (" << rc << "): " << cmd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

std::string fmt_s(std::int64_t us) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  os << static_cast<double>(us) / 1e6 << " s";
  return os.str();
}

// -- the test's own PostgreSQL server -----------------------------------------

/// A throwaway server through scripts/pg-start.sh and pg-stop.sh on its
/// own port and folder: never the server the other tiers share, which this
/// test restarts and stops. Stopped (folder kept, for its log) on
/// destruction, also when the test fails.
class chaos_server {
public:
  chaos_server()
    : port_(env_or("DURABLE_CHAOS_PG_PORT", "5442")),
      dir_(env_or("DURABLE_CHAOS_PG_DIR", "/tmp/durable-chaos-pg")) {
    const bool shared = port_ == env_or("PG_PORT", "5433")
                        || dir_ == env_or("PG_DIR", "/tmp/durable-pg");
    REQUIRE_MESSAGE(!shared, "the chaos test needs a server of its own: "
                             "DURABLE_CHAOS_PG_PORT/DIR equal PG_PORT/DIR");
    // A fresh cluster each run: nothing from an earlier run is counted.
    stop("fast", true);
    url_ = start();
  }

  ~chaos_server() {
    try {
      stop("fast", false);
    } catch (...) {
    }
  }

  const std::string& url() const noexcept {
    return url_;
  }

  const std::string& dir() const noexcept {
    return dir_;
  }

  std::string start() {
    return shell(env() + " " + DURABLE_SOURCE_DIR "/scripts/pg-start.sh");
  }

  /// `mode` is pg_ctl's shutdown mode (fast, immediate).
  void stop(const std::string& mode, bool remove) {
    shell(env() + " PG_STOP_MODE=" + mode
          + " " DURABLE_SOURCE_DIR "/scripts/pg-stop.sh"
          + (remove ? " --delete" : ""));
  }

private:
  std::string env() const {
    // Durable commits (fsync, synchronous_commit): an immediate shutdown
    // is a crash, and without them it loses commits the nodes were told
    // about, which no engine can survive.
    return "PG_PORT=" + port_ + " PG_DIR=" + dir_
           + " PG_DB=durable_chaos PG_DURABLE=1";
  }

  std::string port_;
  std::string dir_;
  std::string url_;
};

// -- the history of the executions table --------------------------------------

/// Installs the tables the invariants read: `transitions` (a trigger logs
/// every insert and every update of a row's status, owner, version,
/// attempt or output: everything but lease renewals), `runs` (the bodies'
/// run logs, loaded at the end), `faults` and `enqueued`.
void install_history(pqxx::connection& c) {
  pqxx::work tx{c};
  tx.exec(R"sql(
CREATE TABLE chaos.transitions (
  seq bigserial PRIMARY KEY,
  id text COLLATE "C" NOT NULL,
  task_id text NOT NULL,
  kind smallint NOT NULL,
  old_status text,
  new_status text NOT NULL,
  old_owner text,
  new_owner text,
  old_attempt integer,
  new_attempt integer NOT NULL,
  old_recoveries integer,
  new_recoveries integer NOT NULL,
  old_version bigint,
  new_version bigint NOT NULL,
  output_changed boolean NOT NULL,
  at_us bigint NOT NULL);
CREATE INDEX ON chaos.transitions (id, at_us);
CREATE FUNCTION chaos.log_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chaos.transitions (id, task_id, kind, new_status, new_owner,
    new_attempt, new_recoveries, new_version, output_changed, at_us)
  VALUES (NEW.id, NEW.task_id, NEW.kind, NEW.status, NEW.owner, NEW.attempt,
    NEW.recoveries, NEW.version, NEW.output IS NOT NULL,
    (extract(epoch from clock_timestamp()) * 1000000)::bigint);
  RETURN NULL;
END $$;
CREATE FUNCTION chaos.log_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chaos.transitions (id, task_id, kind, old_status, new_status,
    old_owner, new_owner, old_attempt, new_attempt, old_recoveries,
    new_recoveries, old_version, new_version, output_changed, at_us)
  VALUES (NEW.id, NEW.task_id, NEW.kind, OLD.status, NEW.status, OLD.owner,
    NEW.owner, OLD.attempt, NEW.attempt, OLD.recoveries, NEW.recoveries,
    OLD.version, NEW.version, OLD.output IS DISTINCT FROM NEW.output,
    (extract(epoch from clock_timestamp()) * 1000000)::bigint);
  RETURN NULL;
END $$;
CREATE TRIGGER chaos_log_insert AFTER INSERT ON chaos.executions
  FOR EACH ROW EXECUTE FUNCTION chaos.log_insert();
CREATE TRIGGER chaos_log_update AFTER UPDATE ON chaos.executions
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
    OR OLD.owner IS DISTINCT FROM NEW.owner
    OR OLD.version IS DISTINCT FROM NEW.version
    OR OLD.attempt IS DISTINCT FROM NEW.attempt
    OR OLD.output IS DISTINCT FROM NEW.output)
  EXECUTE FUNCTION chaos.log_update();
CREATE TABLE chaos.runs (
  id text COLLATE "C" NOT NULL,
  task_id text NOT NULL,
  attempt integer NOT NULL,
  incarnation text NOT NULL,
  node text NOT NULL,
  start_us bigint NOT NULL,
  parent_id text COLLATE "C",
  is_finalize boolean NOT NULL,
  -- What a re-run repeats: the execution, or for a finalize run its
  -- parent's finalize (a finalize run again by the parent's adopter may
  -- get a new id).
  run_key text COLLATE "C" GENERATED ALWAYS AS (CASE WHEN is_finalize
    THEN parent_id || '#finalize' ELSE id END) STORED,
  -- The row whose lease covers the body: its own, or for a finalize run
  -- inline by its parent's owner (stored only with its result), the
  -- parent's. Set after loading.
  lease_row text COLLATE "C");
CREATE TABLE chaos.faults (
  seq integer PRIMARY KEY,
  kind text NOT NULL,
  node text,
  incarnation text,
  at_us bigint NOT NULL,
  end_us bigint NOT NULL);
CREATE TABLE chaos.enqueued (
  id text COLLATE "C" PRIMARY KEY,
  task_id text NOT NULL,
  expected text NOT NULL);
)sql");
  tx.commit();
}

// -- nodes
// ----------------------------------------------------------------------

struct node_slot {
  std::string name{};
  std::unique_ptr<child_process> proc{};
  std::string incarnation{};
  bool frozen = false;
  /// Killed and waiting for its restart at this time.
  std::optional<clock_type::time_point> restart_at{};
};

struct fault {
  std::string kind;
  std::string node;
  std::string incarnation;
  std::int64_t at_us = 0;
  std::int64_t end_us = 0;
};

struct expectation {
  std::string id;
  std::string task;
  std::string expected;
};

struct pending_wake {
  std::string sleeping_id;
  std::string value;
  clock_type::time_point at;
};

class chaos_run {
public:
  chaos_run(std::uint64_t seed, std::chrono::seconds duration)
    : rng_(seed), duration_(duration) {
    // Not a temp_dirs folder (removed at exit): kept when the test fails.
    std::string tmpl = env_or("TMPDIR", "/tmp") + "/durable-chaos-XXXXXX";
    REQUIRE_MESSAGE(::mkdtemp(tmpl.data()) != nullptr,
                    "cannot create " << tmpl);
    runs_dir_ = tmpl;
    // Before any thread exists: every node inherits it.
    ::setenv("DURABLE_CHAOS_RUNS_DIR", runs_dir_.c_str(), 1);
    std::cout << "chaos: node logs and run logs in " << runs_dir_
              << ", server in " << server_.dir() << std::endl;
    durable::storage::pg::pg_options o;
    o.url = server_.url();
    o.schema = schema;
    o.pool_size = 2;
    store_ = durable::storage::pg::postgres(o);
    client_ = std::make_unique<durable::executor>(
      store_,
      durable::executor_options{.scheduler_threads = 2, .run_tasks = false});
    tasks_ = ch::register_chaos_tasks(*client_, nullptr);
    pqxx::connection c{server_.url()};
    install_history(c);
  }

  ~chaos_run() {
    // Nodes first (SIGKILL for any still running), then the client, then
    // the server (a member declared first).
    nodes_.clear();
    client_.reset();
  }

  void run();
  /// Checks and prints the invariants and the summary; true if all held.
  bool check();

  /// Counts the engine events in the nodes' logs (printed); a violation
  /// per kind the server's faults must have made every run log.
  std::size_t check_node_logs() const;

  /// Removes the node and run logs (kept when the test failed).
  void remove_logs() {
    std::error_code ignored;
    std::filesystem::remove_all(runs_dir_, ignored);
  }

private:
  // -- nodes ------------------------------------------------------------------

  void start_node(node_slot& n) {
    std::vector<std::string> args{
      "--name", n.name, "--store", "postgres", "--pg-url", server_.url(),
      "--pg-schema", schema, "--pg-pool", "3", "--max-concurrent", "8",
      "--worker-threads", "8", "--scheduler-threads", "2", "--lease-ms",
      std::to_string(lease_ms), "--renew-ms", "500", "--poll-ms", "250",
      "--grace-ms", "5000",
      // The bound on recoveries stops a task that kills its node; here
      // the faults hit every execution alike (a long body can be running
      // through the restart, the outage and two kills), and a failed
      // execution would count as lost work.
      "--max-recoveries", "20"};
    n.proc = std::make_unique<child_process>(
      DURABLE_CHAOS_NODE, std::move(args),
      durable::test::child_stderr{.path = runs_dir_ + "/" + n.name + ".log"});
    auto line = n.proc->line_starting_with("ready ", clock_type::now() + 60s);
    REQUIRE_MESSAGE(line.has_value(), "node " << n.name << " did not start");
    auto pos = line->find("incarnation=");
    REQUIRE(pos != std::string::npos);
    auto end = line->find(' ', pos);
    n.incarnation = line->substr(pos + 12, end - pos - 12);
    n.restart_at.reset();
    std::cout << "chaos: " << n.name << " started as " << n.incarnation
              << std::endl;
  }

  node_slot* pick_victim() {
    std::vector<node_slot*> alive;
    for (auto& n : nodes_)
      if (n.proc && !n.frozen && !n.restart_at)
        alive.push_back(&n);
    if (alive.empty())
      return nullptr;
    std::uniform_int_distribution<std::size_t> d{0, alive.size() - 1};
    return alive[d(rng_)];
  }

  void kill_node(node_slot& n) {
    const auto at = now_us();
    n.proc->kill_hard();
    n.proc.reset();
    faults_.push_back({"kill", n.name, n.incarnation, at, at});
    n.restart_at = clock_type::now() + 1s;
    std::cout << "chaos: t=" << elapsed_s() << " kill -9 " << n.name << " ("
              << n.incarnation << ")" << std::endl;
  }

  // -- workload ---------------------------------------------------------------

  int uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>{lo, hi}(rng_);
  }

  template <class Out, class In>
  void enqueue(const durable::task_ref<In, Out>& t, const In& input,
               const nlohmann::json& expected,
               durable::enqueue_options opts = {}) {
    try {
      auto h = client_->enqueue(t, input, opts);
      expected_.push_back({h.execution_id(), t.id(), expected.dump()});
    } catch (const std::exception& e) {
      ++enqueue_errors_;
      std::cout << "chaos: enqueue of " << t.id() << " failed: " << e.what()
                << std::endl;
    }
  }

  void wave() {
    // A long enough timeout for chains and loops (whose default is 30 s)
    // to outlive the outage.
    const durable::enqueue_options long_timeout{
      .timeout = durable::millis{600'000}};
    const int n = uniform(3, 6);
    enqueue(tasks_.tree, ch::tree_input{n, uniform(200, 1000)},
            ch::expected_tree(n));
    for (int i = 0; i < 2; ++i) {
      const int x = uniform(0, 1000);
      enqueue(tasks_.chain, x, x + 3, long_timeout);
    }
    const int target = uniform(3, 6);
    enqueue(tasks_.loop, target,
            nlohmann::json{{"is_success", true}, {"output", target}},
            long_timeout);
    for (int i = 0; i < 6; ++i) {
      const int x = uniform(0, 1000);
      // Long bodies: a kill finds bodies running on every node.
      const int ms = i < 3 ? uniform(2000, 5000) : uniform(50, 1500);
      enqueue(tasks_.square, ch::work_input{x, ms, uniform(0, 3) == 0}, x * x);
    }
    const auto id = "sleeper-" + std::to_string(++sleepers_);
    const auto value = "woken-" + std::to_string(sleepers_);
    enqueue(tasks_.sleeper, id, value);
    wakes_.push_back(
      {id, value, clock_type::now() + std::chrono::seconds{uniform(1, 5)}});
  }

  /// Wakes the sleepers whose time came (all of them with `all`); a wake
  /// that fails is tried again later.
  void wake_due(bool all) {
    const auto now = clock_type::now();
    for (auto it = wakes_.begin(); it != wakes_.end();) {
      if (!all && it->at > now) {
        ++it;
        continue;
      }
      try {
        client_->wake(tasks_.sleeper, it->sleeping_id,
                      durable::completed(it->value));
        it = wakes_.erase(it);
      } catch (const std::exception& e) {
        std::cout << "chaos: wake of " << it->sleeping_id
                  << " failed (tried again): " << e.what() << std::endl;
        ++it;
      }
    }
  }

  // -- helpers ----------------------------------------------------------------

  std::string elapsed_s() const {
    return fmt_s(std::chrono::duration_cast<std::chrono::microseconds>(
                   clock_type::now() - t0_)
                   .count());
  }

  std::int64_t active_rows() {
    pqxx::connection c{server_.url()};
    pqxx::nontransaction tx{c};
    return tx
      .exec1("SELECT count(*) FROM chaos.executions WHERE status IN "
             "('ready', 'running', 'waiting_for_children', "
             "'waiting_for_finalize')")[0]
      .as<std::int64_t>();
  }

  void stop_nodes();
  void load_results();

  // Declared first: destroyed last.
  chaos_server server_;
  std::mt19937_64 rng_;
  std::chrono::seconds duration_;
  std::string runs_dir_;
  std::shared_ptr<durable::store> store_;
  std::unique_ptr<durable::executor> client_;
  ch::chaos_tasks tasks_;
  std::vector<node_slot> nodes_;
  std::vector<fault> faults_;
  std::vector<expectation> expected_;
  std::vector<pending_wake> wakes_;
  int sleepers_ = 0;
  int enqueue_errors_ = 0;
  int process_failures_ = 0;
  clock_type::time_point t0_;
};

void chaos_run::run() {
  nodes_.reserve(node_names.size()); // stable addresses (pick_victim)
  for (const auto& name : node_names) {
    nodes_.push_back(node_slot{.name = name});
    start_node(nodes_.back());
  }
  // The plan, all drawn from the seed: one freeze past the lease, one
  // immediate restart of the server, one outage, and kills every few
  // seconds.
  using secs = std::chrono::duration<double>;
  auto draw = [&](double lo, double hi) {
    return std::chrono::duration_cast<clock_type::duration>(
      secs{std::uniform_real_distribution<double>{lo, hi}(rng_)});
  };
  const auto freeze_at = draw(8, 12);
  const auto restart_at = draw(20, 24);
  const auto outage_at = draw(32, 36);
  const auto outage_end = outage_at + outage_for;
  // No kill while the server is away (the node could not start again);
  // a kill whose recovery overlaps a server fault is left out of the
  // recovery figures (check()).
  auto kill_allowed = [&](clock_type::duration t) {
    auto near = [&](clock_type::duration a, clock_type::duration b) {
      return t > a - 1s && t < b + 1s;
    };
    return !near(restart_at, restart_at + 2s) && !near(outage_at, outage_end);
  };
  t0_ = clock_type::now();
  auto next_kill = draw(4, 7);
  auto next_wave = clock_type::duration::zero();
  bool froze = false;
  bool restarted = false;
  bool outage_done = false;
  node_slot* frozen = nullptr;
  clock_type::duration thaw_at{};
  const auto end = std::chrono::duration_cast<clock_type::duration>(duration_);
  while (true) {
    const auto t = clock_type::now() - t0_;
    if (t >= end)
      break;
    // Restarts of killed nodes.
    for (auto& n : nodes_)
      if (n.restart_at && clock_type::now() >= *n.restart_at)
        start_node(n);
    // The freeze: SIGSTOP for two leases, then SIGCONT.
    if (!froze && t >= freeze_at) {
      froze = true;
      frozen = pick_victim();
      if (frozen != nullptr) {
        frozen->proc->signal(SIGSTOP);
        frozen->frozen = true;
        thaw_at = t + freeze_for;
        faults_.push_back(
          {"freeze", frozen->name, frozen->incarnation, now_us(), 0});
        std::cout << "chaos: t=" << elapsed_s() << " SIGSTOP " << frozen->name
                  << " for " << freeze_for.count() << " ms" << std::endl;
      }
    }
    if (frozen != nullptr && t >= thaw_at) {
      frozen->proc->signal(SIGCONT);
      frozen->frozen = false;
      for (auto& f : faults_)
        if (f.kind == "freeze" && f.end_us == 0)
          f.end_us = now_us();
      std::cout << "chaos: t=" << elapsed_s() << " SIGCONT " << frozen->name
                << std::endl;
      frozen = nullptr;
    }
    // The server's faults.
    if (!restarted && t >= restart_at) {
      restarted = true;
      const auto at = now_us();
      server_.stop("immediate", false);
      server_.start();
      faults_.push_back({"pg_restart", "", "", at, now_us()});
      std::cout << "chaos: t=" << elapsed_s()
                << " PostgreSQL restarted (-m immediate) in "
                << fmt_s(now_us() - at) << std::endl;
    }
    if (!outage_done && t >= outage_at) {
      outage_done = true;
      const auto at = now_us();
      server_.stop("fast", false);
      std::cout << "chaos: t=" << elapsed_s() << " PostgreSQL stopped for "
                << outage_for.count() << " s" << std::endl;
      std::this_thread::sleep_for(outage_for);
      server_.start();
      faults_.push_back({"pg_outage", "", "", at, now_us()});
      std::cout << "chaos: t=" << elapsed_s() << " PostgreSQL back"
                << std::endl;
      continue;
    }
    // Kills.
    if (t >= next_kill) {
      if (kill_allowed(t) && t < end - 3s)
        if (auto* victim = pick_victim())
          kill_node(*victim);
      next_kill = t + draw(4, 7);
    }
    // Work.
    if (t >= next_wave) {
      if (t < end - 5s)
        wave();
      next_wave = t + wave_every;
    }
    wake_due(false);
    std::this_thread::sleep_for(100ms);
  }
  if (frozen != nullptr) {
    frozen->proc->signal(SIGCONT);
    frozen->frozen = false;
  }
  for (auto& n : nodes_)
    if (n.restart_at)
      start_node(n);
  std::cout << "chaos: t=" << elapsed_s() << " faults over; settling"
            << std::endl;
  // Every sleeper woken, then every execution ends (hang guard).
  const auto deadline = clock_type::now() + settle_guard;
  while (!wakes_.empty() && clock_type::now() < deadline) {
    wake_due(true);
    if (!wakes_.empty())
      std::this_thread::sleep_for(500ms);
  }
  std::int64_t active = -1;
  while (clock_type::now() < deadline) {
    active = active_rows();
    if (active == 0)
      break;
    std::this_thread::sleep_for(500ms);
  }
  std::cout << "chaos: t=" << elapsed_s() << " settled, " << active
            << " executions still active" << std::endl;
  stop_nodes();
}

void chaos_run::stop_nodes() {
  for (auto& n : nodes_)
    if (n.proc)
      n.proc->signal(SIGTERM);
  const auto deadline = clock_type::now() + 30s;
  for (auto& n : nodes_) {
    if (!n.proc)
      continue;
    // Exited (not reaped yet)? A node that does not drain in time is
    // killed by its child_process.
    siginfo_t info{};
    while (clock_type::now() < deadline) {
      info.si_pid = 0;
      if (::waitid(P_PID, static_cast<id_t>(n.proc->pid()), &info,
                   WEXITED | WNOHANG | WNOWAIT)
            == 0
          && info.si_pid != 0)
        break;
      std::this_thread::sleep_for(50ms);
    }
    if (info.si_pid == 0) {
      ++process_failures_;
      FAIL_CHECK(n.name << " did not stop within 30 s of SIGTERM");
    } else if (n.proc->join() != 0) {
      ++process_failures_;
      FAIL_CHECK(n.name << " did not drain cleanly");
    }
    n.proc.reset();
  }
}

void chaos_run::load_results() {
  pqxx::connection c{server_.url()};
  pqxx::work tx{c};
  std::size_t runs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(runs_dir_)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("runs-", 0) != 0)
      continue;
    std::ifstream in{entry.path()};
    std::string line;
    pqxx::stream_to out{
      tx, "chaos.runs",
      std::vector<std::string>{"id", "task_id", "attempt", "incarnation",
                               "node", "start_us", "parent_id", "is_finalize"}};
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::istringstream ls{line};
      for (std::string x; std::getline(ls, x, '\t');)
        f.push_back(x);
      // A line cut short by a SIGKILL in the middle of its write cannot
      // happen (one write(2)); a malformed line fails the test.
      REQUIRE_MESSAGE(f.size() == 8, "malformed run log line: " << line);
      out << std::make_tuple(f[0], f[1], std::stoi(f[2]), f[3], f[4],
                             std::stoll(f[5]), f[6], f[7] == "1");
      ++runs;
    }
    out.complete();
  }
  tx.exec(R"sql(
UPDATE chaos.runs r SET lease_row = CASE WHEN EXISTS (
    SELECT 1 FROM chaos.transitions t WHERE t.id = r.id
    AND t.at_us <= r.start_us) THEN r.id ELSE NULLIF(r.parent_id, '-') END)sql");
  {
    pqxx::stream_to out{tx, "chaos.faults",
                        std::vector<std::string>{"seq", "kind", "node",
                                                 "incarnation", "at_us",
                                                 "end_us"}};
    int seq = 0;
    for (const auto& f : faults_)
      out << std::make_tuple(++seq, f.kind, f.node, f.incarnation, f.at_us,
                             f.end_us);
    out.complete();
  }
  {
    pqxx::stream_to out{tx, "chaos.enqueued",
                        std::vector<std::string>{"id", "task_id", "expected"}};
    for (const auto& e : expected_)
      out << std::make_tuple(e.id, e.task, e.expected);
    out.complete();
  }
  tx.commit();
  std::cout << "chaos: " << runs << " runs recorded" << std::endl;
}

// -- invariants
// -----------------------------------------------------------------

/// Prints the history of execution `id` (or of the parent's finalize,
/// for `<parent>#finalize`): its row, its transitions and the runs of its
/// bodies, times relative to its first transition.
void print_history(pqxx::nontransaction& tx, std::string id) {
  if (auto pos = id.find('#'); pos != std::string::npos)
    id.erase(pos);
  std::cout << "        history of " << id << ":" << std::endl;
  const auto q = tx.quote(id);
  auto base = tx.exec("SELECT min(at_us) FROM chaos.transitions WHERE id = " + q
                      + " OR id IN (SELECT id FROM chaos.executions "
                        "WHERE parent_id = "
                      + q + " AND parent_is_finalize)");
  const auto b = base.empty() || base[0][0].is_null()
                   ? std::string{"0"}
                   : std::string{base[0][0].c_str()};
  auto dump = [&](const std::string& sql) {
    for (const auto& row : tx.exec(sql)) {
      std::cout << "          ";
      for (const auto& f : row)
        std::cout << f.name() << "=" << (f.is_null() ? "NULL" : f.c_str())
                  << " ";
      std::cout << std::endl;
    }
  };
  dump("SELECT id, task_id, status, attempt, recoveries, owner, output, "
       "error_message, parent_id FROM chaos.executions WHERE id = "
       + q);
  dump("SELECT id, old_status || '>' || new_status AS status, old_owner, "
       "new_owner, new_attempt AS attempt, new_recoveries AS recoveries, "
       "new_version AS version, at_us - "
       + b
       + " AS at FROM "
         "chaos.transitions WHERE id = "
       + q
       + " OR id IN (SELECT id FROM "
         "chaos.executions WHERE parent_id = "
       + q
       + " AND parent_is_finalize) "
         "ORDER BY at_us, seq");
  dump("SELECT 'run' AS run, id, attempt, incarnation, node, start_us - " + b
       + " AS at FROM chaos.runs WHERE id = " + q + " OR (parent_id = " + q
       + " AND is_finalize) ORDER BY start_us");
  dump("SELECT kind, node, incarnation, at_us - " + b + " AS at, end_us - " + b
       + " AS until FROM chaos.faults ORDER BY seq");
}

/// Prints up to 20 offending rows of `sql` under `what`, and the history
/// of the executions the first three name in their first column; returns
/// how many there were.
std::size_t offenders(pqxx::nontransaction& tx, const std::string& what,
                      const std::string& sql) {
  auto r = tx.exec(sql);
  if (r.empty()) {
    std::cout << "chaos: ok    " << what << std::endl;
    return 0;
  }
  // Printed after the rows (the history runs queries on the same
  // transaction).
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < std::min<std::size_t>(r.size(), 3); ++i) {
    const auto& f = r[static_cast<pqxx::result::size_type>(i)][0];
    if (!f.is_null())
      ids.emplace_back(f.c_str());
  }
  std::cout << "chaos: FAIL  " << what << ": " << r.size() << std::endl;
  for (std::size_t i = 0; i < std::min<std::size_t>(r.size(), 20); ++i) {
    std::cout << "        ";
    for (const auto& f : r[static_cast<pqxx::result::size_type>(i)])
      std::cout << f.name() << "=" << (f.is_null() ? "NULL" : f.c_str()) << " ";
    std::cout << std::endl;
  }
  for (const auto& id : ids)
    if (id.rfind("te_", 0) == 0)
      print_history(tx, id);
  return r.size();
}

const std::string active_statuses
  = "('ready', 'running', 'waiting_for_children', 'waiting_for_finalize')";
const std::string terminal_statuses = "('completed', 'failed', 'timed_out', "
                                      "'finalize_failed', 'cancelled')";

/// For each run after the first of an (execution, attempt): the earlier
/// run's incarnation, the transition that took the row away from it (to
/// another owner, to none, or back to itself as a recovery) before the
/// later run started, and the cause: the earlier node was killed or
/// frozen before that, or the row was taken away during (or within three
/// leases after) a fault of the server. NULL: unexplained.
std::string extra_runs_sql() {
  const auto lease = std::to_string(lease_us);
  return R"sql(
WITH r AS (
  SELECT *, row_number() OVER w AS n,
    lag(incarnation) OVER w AS prev_inc, lag(start_us) OVER w AS prev_start
  FROM chaos.runs
  WINDOW w AS (PARTITION BY run_key, attempt ORDER BY start_us)),
extra AS (
  SELECT r.run_key, r.task_id, r.attempt, r.prev_inc, r.prev_start,
    r.incarnation, r.node, r.start_us, away.at_us AS away_us,
    away.new_owner AS away_to
  FROM r LEFT JOIN LATERAL (
    SELECT t.at_us, t.new_owner FROM chaos.transitions t
    WHERE (t.id = r.lease_row OR (r.is_finalize AND t.id = r.parent_id))
      AND t.at_us > r.prev_start
      AND t.at_us <= r.start_us
      AND t.old_owner = r.prev_inc
      AND (t.new_owner IS DISTINCT FROM r.prev_inc
           OR t.new_recoveries > t.old_recoveries)
    ORDER BY t.at_us LIMIT 1) away ON true
  WHERE r.n > 1)
SELECT e.*, CASE
  WHEN e.away_us IS NULL THEN NULL
  WHEN EXISTS (SELECT 1 FROM chaos.faults f WHERE f.kind = 'kill'
    AND f.incarnation = e.prev_inc AND f.at_us <= e.away_us) THEN 'dead node'
  WHEN EXISTS (SELECT 1 FROM chaos.faults f WHERE f.kind = 'freeze'
    AND f.incarnation = e.prev_inc AND f.at_us <= e.away_us
    AND e.prev_start <= f.end_us) THEN 'frozen node'
  WHEN EXISTS (SELECT 1 FROM chaos.faults f
    WHERE f.kind IN ('pg_restart', 'pg_outage')
    AND e.away_us BETWEEN f.at_us AND f.end_us + 3 * )sql"
         + lease + R"sql( AND e.prev_start <= f.end_us) THEN 'server fault'
  END AS cause
FROM extra e)sql";
}

std::size_t chaos_run::check_node_logs() const {
  // The nodes' observers log what they survive. The outage stops every
  // renewal for 30 s: each node that lived through it says its renewals
  // failed, and that they work again.
  std::map<std::string, std::size_t> events;
  for (const auto& name :
       {"renewal_failed", "renewal_restored", "store_failure", "lease_lost",
        "leadership", "conflict", "corrupt_row"})
    events[name] = 0;
  for (const auto& n : nodes_) {
    std::ifstream in{runs_dir_ + "/" + n.name + ".log"};
    for (std::string line; std::getline(in, line);)
      for (auto& [name, count] : events)
        if (line.find(" " + name + " ") != std::string::npos)
          ++count;
  }
  std::cout << "  node log events:";
  for (const auto& [name, count] : events)
    std::cout << " " << name << "=" << count;
  std::cout << std::endl;
  std::size_t failed = 0;
  for (const char* needed : {"renewal_failed", "renewal_restored"})
    if (events[needed] == 0) {
      std::cout << "VIOLATION: no node logged " << needed
                << " through the server's outage" << std::endl;
      ++failed;
    }
  return failed;
}

bool chaos_run::check() {
  load_results();
  pqxx::connection c{server_.url()};
  pqxx::nontransaction tx{c};
  std::size_t failed = 0;

  // 1. Nothing lost.
  failed += offenders(tx, "nothing lost (every enqueued execution exists)",
                      "SELECT q.id, q.task_id FROM chaos.enqueued q "
                      "LEFT JOIN chaos.executions e ON e.id = q.id "
                      "WHERE e.id IS NULL");
  // 2. Nothing left active.
  failed += offenders(tx, "nothing left active",
                      "SELECT id, task_id, status, owner, attempt, recoveries "
                      "FROM chaos.executions WHERE status IN "
                        + active_statuses);
  // 3. Every output right: the enqueued ones against their expectation,
  // and every execution in the tree below them completed.
  failed += offenders(
    tx, "every output right",
    "SELECT q.id, q.task_id, e.status, e.output, q.expected, e.error_message "
    "FROM chaos.enqueued q JOIN chaos.executions e ON e.id = q.id "
    "WHERE e.status <> 'completed' OR e.output IS NULL "
    "OR e.output::jsonb <> q.expected::jsonb");
  failed += offenders(tx, "every execution under them completed",
                      "SELECT id, task_id, status, root_id, error_message "
                      "FROM chaos.executions WHERE status <> 'completed'");
  // 4. No execution completed twice: one entry into a final status, none
  // out of it, no output rewritten after it; no child spawned twice.
  failed += offenders(tx, "no execution completed twice",
                      "SELECT id, count(*) AS endings FROM chaos.transitions "
                      "WHERE new_status IN "
                        + terminal_statuses
                        + " AND (old_status IS NULL OR old_status NOT IN "
                        + terminal_statuses
                        + ") GROUP BY id HAVING count(*) > 1 "
                          "UNION ALL SELECT id, seq FROM chaos.transitions "
                          "WHERE old_status IN "
                        + terminal_statuses
                        + " AND (new_status <> old_status OR output_changed)");
  failed += offenders(
    tx, "no child spawned twice",
    "SELECT parent_id, parent_index, parent_is_finalize, count(*) "
    "FROM chaos.executions WHERE parent_id IS NOT NULL "
    "GROUP BY parent_id, parent_index, parent_is_finalize "
    "HAVING count(*) > 1");
  failed += offenders(
    tx, "every tree, chain and loop has exactly its children",
    "SELECT q.id, q.task_id, q.expected, count(k.id) AS children "
    "FROM chaos.enqueued q LEFT JOIN chaos.executions k ON k.parent_id = q.id "
    "WHERE q.task_id IN ('chaos_tree', 'chaos_chain', 'chaos_loop') "
    "GROUP BY q.id, q.task_id, q.expected, q.expected HAVING count(k.id) <> "
    "CASE q.task_id WHEN 'chaos_chain' THEN 3 "
    "WHEN 'chaos_loop' THEN (q.expected::jsonb->>'output')::int "
    "ELSE (SELECT (input::jsonb->>'n')::int + 1 FROM chaos.executions "
    "WHERE id = q.id) END");
  // 5. Every extra run explained by a retry or a dead node.
  failed += offenders(tx, "every extra run explained (dead, frozen, server)",
                      "SELECT * FROM (" + extra_runs_sql()
                        + ") x WHERE cause IS NULL");
  failed += offenders(
    tx, "every retry follows a failed attempt",
    "SELECT r.* FROM chaos.runs r WHERE r.attempt > 0 AND NOT EXISTS ("
    "SELECT 1 FROM chaos.transitions t WHERE t.id = r.id "
    "AND t.new_attempt >= r.attempt AND t.at_us <= r.start_us)");
  // 6. No body started after its lease could have passed: at its start,
  // the row's last transition gave it to this incarnation (another node
  // takes a row only once its lease expired).
  failed += offenders(
    tx, "no body started after its lease could have passed",
    "SELECT r.*, last.new_owner AS owner_at_start, last.new_status, "
    "r.start_us - last.at_us AS us_after_that FROM chaos.runs r "
    "LEFT JOIN LATERAL (SELECT new_owner, new_status, at_us "
    "FROM chaos.transitions t WHERE t.id = r.lease_row "
    "AND t.at_us <= r.start_us "
    "ORDER BY t.at_us DESC, t.seq DESC LIMIT 1) last ON true "
    "WHERE last.new_owner IS DISTINCT FROM r.incarnation "
    "ORDER BY r.start_us");

  // Recovery: from a kill (or the freeze) to the last of the node's
  // active rows leaving it (taken over or finished).
  auto rec = tx.exec(R"sql(
SELECT f.seq, f.kind, f.node, count(*) AS held,
  bool_or(away.at_us IS NULL) AS stranded,
  max(away.at_us) - f.at_us AS recovery_us,
  EXISTS (SELECT 1 FROM chaos.faults s
    WHERE s.kind IN ('pg_restart', 'pg_outage')
    AND s.at_us <= f.at_us + )sql"
                     + std::to_string(recovery_guard_us) + R"sql(
    AND s.end_us >= f.at_us) AS server_fault
FROM chaos.faults f
CROSS JOIN LATERAL (
  SELECT DISTINCT ON (t.id) t.id, t.new_owner, t.new_status
  FROM chaos.transitions t
  WHERE t.at_us <= f.at_us AND t.id IN (
    SELECT id FROM chaos.transitions WHERE new_owner = f.incarnation)
  ORDER BY t.id, t.at_us DESC, t.seq DESC) last
CROSS JOIN LATERAL (
  SELECT min(t2.at_us) AS at_us FROM chaos.transitions t2
  WHERE t2.id = last.id AND t2.at_us > f.at_us
    AND (t2.new_owner IS DISTINCT FROM f.incarnation
         OR t2.new_status NOT IN )sql"
                     + active_statuses + R"sql()) away
WHERE f.kind IN ('kill', 'freeze') AND last.new_owner = f.incarnation
  AND last.new_status IN )sql"
                     + active_statuses + R"sql(
GROUP BY f.seq, f.kind, f.node, f.at_us, f.end_us ORDER BY f.seq)sql");
  std::vector<std::int64_t> kill_recoveries;
  for (const auto& row : rec) {
    const auto kind = row["kind"].as<std::string>();
    const bool stranded = row["stranded"].as<bool>();
    const auto us = row["recovery_us"].as<std::int64_t>(-1);
    const bool blurred = row["server_fault"].as<bool>();
    std::cout << "chaos: recovery after " << kind << " #"
              << row["seq"].as<int>() << " of " << row["node"].c_str() << ": "
              << row["held"].as<int>() << " rows, " << fmt_s(us)
              << (stranded ? " (STRANDED rows)" : "")
              << (blurred ? " (server fault meanwhile: not counted)" : "")
              << std::endl;
    if (stranded) {
      ++failed;
      std::cout << "chaos: FAIL  " << kind << " #" << row["seq"].as<int>()
                << " left rows with the dead node" << std::endl;
    }
    if (kind == "kill" && !blurred) {
      kill_recoveries.push_back(us);
      if (us > recovery_guard_us) {
        ++failed;
        std::cout << "chaos: FAIL  recovery after kill #"
                  << row["seq"].as<int>() << " took " << fmt_s(us)
                  << " (hang guard: 3 leases)" << std::endl;
      }
    }
  }

  // The summary.
  auto count = [&](const std::string& sql) {
    return tx.exec1(sql)[0].as<std::int64_t>();
  };
  std::cout << "chaos: summary" << std::endl;
  std::cout << "  executions: "
            << count("SELECT count(*) FROM chaos.executions") << " ("
            << expected_.size() << " enqueued, " << enqueue_errors_
            << " enqueues failed)" << std::endl;
  for (const auto& row :
       tx.exec("SELECT task_id, count(*) FROM chaos.executions "
               "GROUP BY task_id ORDER BY task_id"))
    std::cout << "    " << row[0].c_str() << ": " << row[1].c_str()
              << std::endl;
  std::cout << "  runs: " << count("SELECT count(*) FROM chaos.runs")
            << ", recoveries per execution: max "
            << count("SELECT coalesce(max(recoveries), 0) FROM "
                     "chaos.executions")
            << ", executions recovered "
            << count("SELECT count(*) FROM chaos.executions "
                     "WHERE recoveries > 0")
            << std::endl;
  std::cout << "  faults:";
  for (const auto& row : tx.exec("SELECT kind, count(*) FROM chaos.faults "
                                 "GROUP BY kind ORDER BY kind"))
    std::cout << " " << row[0].c_str() << "=" << row[1].c_str();
  std::cout << std::endl;
  std::cout << "  re-runs by cause: retry="
            << count("SELECT count(*) FROM (SELECT DISTINCT id, attempt "
                     "FROM chaos.runs WHERE attempt > 0) x");
  for (const auto& row :
       tx.exec("SELECT coalesce(cause, 'UNEXPLAINED'), count(*) FROM ("
               + extra_runs_sql() + ") x GROUP BY 1 ORDER BY 1"))
    std::cout << " " << row[0].c_str() << "=" << row[1].c_str();
  std::cout << std::endl;
  std::sort(kill_recoveries.begin(), kill_recoveries.end());
  auto pct = [&](double p) {
    if (kill_recoveries.empty())
      return std::string{"-"};
    auto i = static_cast<std::size_t>(p * (kill_recoveries.size() - 1) + 0.5);
    return fmt_s(kill_recoveries[i]);
  };
  std::cout << "  recovery after a kill (" << kill_recoveries.size()
            << " kills with active rows, no server fault meanwhile): p50 "
            << pct(0.5) << ", p90 " << pct(0.9) << ", max " << pct(1.0)
            << " (target " << fmt_s(recovery_target_us) << ", hang guard "
            << fmt_s(recovery_guard_us) << ")" << std::endl;
  failed += check_node_logs();
  std::cout << "chaos: " << failed << " violations" << std::endl;
  if (failed > 0) {
    // The evidence outlives the server's folder (the next run starts
    // afresh): a dump of the schema beside the logs.
    const auto dump = runs_dir_ + "/chaos-schema.sql";
    const auto cmd = "pg_dump --no-owner -n chaos -f " + dump + " '"
                     + server_.url() + "'";
    if (std::system(cmd.c_str()) == 0)
      std::cout << "chaos: the schema is dumped to " << dump << std::endl;
  }
  return failed == 0 && process_failures_ == 0;
}

} // namespace

TEST_SUITE("chaos") {
  TEST_CASE("a cluster under kills, a freeze and server faults loses nothing") {
    const auto seconds = std::stoi(env_or("DURABLE_CHAOS_SECONDS", "95"));
    REQUIRE_MESSAGE(seconds >= 80, "DURABLE_CHAOS_SECONDS must be >= 80 (the "
                                   "server's faults happen in the first 70 s)");
    const auto seed = std::stoull(
      env_or("DURABLE_CHAOS_SEED", std::to_string(std::random_device{}())));
    std::cout << "chaos: seed " << seed
              << " (repeat with DURABLE_CHAOS_SEED=" << seed << "), " << seconds
              << " s of faults" << std::endl;
    chaos_run run{seed, std::chrono::seconds{seconds}};
    run.run();
    const bool ok = run.check();
    std::cout << "chaos: seed " << seed << std::endl;
    CHECK_MESSAGE(ok, "chaos: invariants failed (see above), seed " << seed);
    if (ok)
      run.remove_logs();
  }

} // TEST_SUITE
