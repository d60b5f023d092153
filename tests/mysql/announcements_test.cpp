#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "durable/execution_record.hpp"
#include "durable/ids.hpp"
#include "durable/options.hpp"
#include "durable/storage/mysql/announcements.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "support/mysql_fixture.hpp"

// Cross-node announcements of the MySQL store (mysql/announcements.hpp):
// two stores on one database stand for two nodes.

namespace detail = durable::storage::mysql_detail;
using durable::store_event;
using type = durable::store_event::type;
using namespace std::chrono_literals;

namespace {

/// What a store's listeners heard, with a way to wait for it.
class recorder {
public:
  explicit recorder(durable::store& s) : store_(s) {
    token_ = s.subscribe([this](std::vector<store_event> events) {
      std::lock_guard guard{mutex_};
      ++calls_;
      for (auto& e : events)
        events_.push_back(std::move(e));
      changed_.notify_all();
    });
  }

  ~recorder() {
    store_.unsubscribe(token_);
  }

  /// Waits up to `d` for an event `pred` accepts; true if one came.
  bool wait_for(std::function<bool(const store_event&)> pred,
                std::chrono::milliseconds d = 5s) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, d, [&] {
      return std::any_of(events_.begin(), events_.end(), pred);
    });
  }

  bool heard(std::function<bool(const store_event&)> pred) {
    std::lock_guard guard{mutex_};
    return std::any_of(events_.begin(), events_.end(), pred);
  }

  std::size_t count(std::function<bool(const store_event&)> pred) {
    std::lock_guard guard{mutex_};
    return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(), pred));
  }

  std::size_t calls() {
    std::lock_guard guard{mutex_};
    return calls_;
  }

private:
  durable::store& store_;
  std::uint64_t token_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<store_event> events_;
  std::size_t calls_ = 0;
};

auto ready_of(const std::string& id) {
  return [id](const store_event& e) {
    return e.kind == type::work_ready && e.execution_id == id;
  };
}

bool is_resync(const store_event& e) {
  return e.kind == type::resync;
}

durable::execution_record ready_row(const std::string& id,
                                    durable::timestamp now) {
  durable::task_options opts;
  opts.id = "task_a";
  opts.timeout = 10s;
  auto r = durable::make_execution("task_a", durable::task_kind::task, opts,
                                   "null", now);
  r.id = id;
  r.root = {r.task_id, r.id};
  return r;
}

/// A database of its own for the case, dropped at its end (after the
/// stores declared later are gone).
struct database {
  std::string name = durable::test::mysql::unique_database();
  durable::storage::mysql_options opts = durable::test::mysql::options(name);

  ~database() {
    try {
      durable::test::mysql::exec_admin("DROP DATABASE IF EXISTS `" + name
                                       + "`");
    } catch (...) {
    }
  }

  /// A connection of its own (a third "node" writing by hand).
  std::unique_ptr<detail::connection> connect() const {
    return std::make_unique<detail::connection>(detail::parse_url(opts.url),
                                                opts);
  }

  std::int64_t count(const std::string& sql) const {
    auto c = connect();
    return std::stoll(c->scalar(sql).value_or("0"));
  }
};

/// An announcer that belongs to no store: writes `events` rows by hand
/// inside a transaction the test commits or rolls back.
detail::announcements hand_announcer(const database& db) {
  return {detail::parse_url(db.opts.url), db.opts,
          [] { return durable::system_now(); }, [](auto) {}};
}

store_event finished(const std::string& id) {
  return {type::finished, id, "parent-1", {}, durable::system_now()};
}

/// Percentile `p` (0..1) of `v`.
double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

struct latency {
  double after_commit_p50_ms = 0;
  int lost = 0;
};

/// Two stores on one database; `rounds` inserts on A, each waited for on
/// B's listener; prints the percentiles and what announcing costs A's
/// insert (the same inserts by a store with announcements off).
latency measure_latency(std::chrono::milliseconds interval, int rounds) {
  database db;
  auto o = db.opts;
  o.announce_interval = interval;
  durable::storage::mysql_store a{o};
  durable::storage::mysql_store b{o};
  auto quiet_opts = o;
  quiet_opts.announce = false;
  durable::storage::mysql_store quiet{quiet_opts};
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::duration<double, std::milli>;
  std::mutex m;
  std::condition_variable cv;
  std::string waiting_for;
  clock::time_point heard_at{};
  auto token = b.subscribe([&](std::vector<store_event> events) {
    auto t = clock::now();
    std::lock_guard guard{m};
    for (const auto& e : events)
      if (e.kind == type::work_ready && e.execution_id == waiting_for) {
        heard_at = t;
        cv.notify_all();
      }
  });
  latency out;
  std::vector<double> from_call, from_return, insert_on, insert_off;
  std::uint64_t seed = 42;
  for (int i = 0; i < rounds; ++i) {
    // Start at a varying phase of B's poll.
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    std::this_thread::sleep_for(std::chrono::microseconds((seed >> 33) % 5000));
    auto id = durable::make_execution_id();
    auto row = ready_row(id, a.now());
    {
      std::lock_guard guard{m};
      waiting_for = id;
      heard_at = {};
    }
    auto before = clock::now();
    a.insert({row});
    auto after = clock::now();
    {
      std::unique_lock lock{m};
      if (!cv.wait_for(lock, 5s,
                       [&] { return heard_at != clock::time_point{}; })) {
        ++out.lost;
        continue;
      }
      from_call.push_back(ms(heard_at - before).count());
      from_return.push_back(ms(heard_at - after).count());
    }
    insert_on.push_back(ms(after - before).count());
    auto other = ready_row(durable::make_execution_id(), quiet.now());
    auto t0 = clock::now();
    quiet.insert({other});
    insert_off.push_back(ms(clock::now() - t0).count());
  }
  b.unsubscribe(token);
  if (from_call.empty())
    return out;
  out.after_commit_p50_ms = percentile(from_return, 0.5);
  auto line = fmt::format(
    "mysql announcements, {} events, announce_interval {} ms: "
    "commit returned on A to B's listener p50 {:.2f} ms p99 {:.2f} ms "
    "max {:.2f} ms; insert call on A to B's listener p50 {:.2f} ms p99 "
    "{:.2f} ms; A's insert p50 {:.2f} ms (announcements off: {:.2f} ms)",
    rounds, interval.count(), percentile(from_return, 0.5),
    percentile(from_return, 0.99), percentile(from_return, 1.0),
    percentile(from_call, 0.5), percentile(from_call, 0.99),
    percentile(insert_on, 0.5), percentile(insert_off, 0.5));
  std::printf("%s\n", line.c_str());
  MESSAGE(line);
  return out;
}

} // namespace

TEST_SUITE("storage.mysql.announcements") {
  TEST_CASE("an events INSERT coalesces as PostgreSQL's NOTIFY payload") {
    auto t = durable::from_micros(1'000'000);
    CHECK_FALSE(detail::announcement_insert_sql(7, t, {}));
    store_event corrupt{type::corrupt, "x", {}, {}, t};
    CHECK_FALSE(detail::announcement_insert_sql(7, t, {corrupt}));
    std::vector<store_event> evs{
      {type::work_ready, "a", {}, {}, t + 2s},
      {type::work_ready, "b", {}, {}, t + 1s},
      {type::deadline, "s1", {}, {}, t + 5s},
      {type::deadline, "s2", {}, {}, t + 4s},
      {type::finished, "c", "p", {}, t},
      {type::cancelled, "d", {}, "o\x01'", t},
    };
    auto sql = detail::announcement_insert_sql(7, t, evs);
    REQUIRE(sql);
    // The column list, then finished, cancelled, the earliest ready and
    // the earliest deadline.
    CHECK(std::count(sql->begin(), sql->end(), '(') == 1 + 4);
    CHECK(sql->find("X'62'") != std::string::npos);     // "b"
    CHECK(sql->find("X'7332'") != std::string::npos);   // "s2"
    CHECK(sql->find("X'6f0127'") != std::string::npos); // bytes, hex
    CHECK(sql->find("X'61'") == std::string::npos);     // "a" coalesced
    // Too many rows, or a resync: one resync row.
    std::vector<store_event> many(detail::max_rows_per_commit + 1,
                                  {type::finished, "c", "p", {}, t});
    auto over = detail::announcement_insert_sql(7, t, many);
    REQUIRE(over);
    CHECK(over->find("'s'") != std::string::npos);
    CHECK(std::count(over->begin(), over->end(), '(') == 2);
  }

  TEST_CASE("an event committed by store A reaches store B's listener") {
    database db;
    durable::storage::mysql_store a{db.opts};
    durable::storage::mysql_store b{db.opts};
    recorder heard_a{a};
    recorder heard_b{b};
    auto id = durable::make_execution_id();
    a.insert({ready_row(id, a.now())});
    REQUIRE(heard_b.wait_for(ready_of(id)));
    CHECK(heard_b.heard([&](const store_event& e) {
      return e.execution_id == id && e.from_other_process;
    }));
    // A heard its own commit once, in-process, not again from its reader.
    std::this_thread::sleep_for(100ms);
    CHECK(heard_a.count(ready_of(id)) == 1);
    CHECK_FALSE(
      heard_a.heard([](const store_event& e) { return e.from_other_process; }));
    CHECK(heard_b.count(ready_of(id)) == 1);
    CHECK_FALSE(heard_b.heard(is_resync));
    // A transition's events travel too: a cancel of an owned row.
    durable::claim_request req;
    req.owner = "node-b";
    req.lease = 30s;
    req.limit = 1;
    req.task_ids = {"task_a"};
    auto claimed = b.claim(req);
    REQUIRE(claimed.claimed.size() == 1);
    auto next = claimed.claimed.front();
    auto expected = next.version;
    next.status = durable::execution_status::cancelled;
    next.finished_at = next.updated_at = a.now();
    next.owner.reset();
    next.lease_expires_at.reset();
    next.version += 1;
    durable::transition t;
    t.next = std::move(next);
    t.expected_version = expected;
    auto out = a.apply({std::move(t)});
    REQUIRE(out.front().status == durable::write_status::applied);
    CHECK(heard_b.wait_for([&](const store_event& e) {
      return e.kind == type::cancelled && e.execution_id == id
             && e.owner == "node-b";
    }));
  }

  TEST_CASE("a rolled-back transaction announces nothing") {
    database db;
    auto o = db.opts;
    o.announce_gap_timeout = 200ms;
    durable::storage::mysql_store a{db.opts};
    durable::storage::mysql_store b{o};
    recorder heard_b{b};
    auto hand = hand_announcer(db);
    auto c = db.connect();
    c->exec("START TRANSACTION");
    hand.publish(*c, {finished("rolled-back")});
    c->exec("ROLLBACK");
    auto id = durable::make_execution_id();
    a.insert({ready_row(id, a.now())});
    REQUIRE(heard_b.wait_for(ready_of(id)));
    // Its number stays missing: one resync after the gap timeout, never
    // its event.
    CHECK(heard_b.wait_for(is_resync, 3s));
    std::this_thread::sleep_for(100ms);
    CHECK_FALSE(heard_b.heard(
      [](const store_event& e) { return e.execution_id == "rolled-back"; }));
    CHECK(heard_b.count(is_resync) == 1);
    CHECK(db.count("SELECT COUNT(*) FROM events WHERE execution_id = "
                   "'rolled-back'")
          == 0);
  }

  TEST_CASE("a commit that took a lower number and committed late arrives") {
    database db;
    SUBCASE("within the gap timeout: delivered, no resync") {
      auto o = db.opts;
      o.announce_gap_timeout = 10s;
      durable::storage::mysql_store a{db.opts};
      durable::storage::mysql_store b{o};
      recorder heard_b{b};
      auto hand = hand_announcer(db);
      auto c = db.connect();
      c->exec("START TRANSACTION");
      hand.publish(*c, {finished("late")}); // takes the lower number
      auto id = durable::make_execution_id();
      a.insert({ready_row(id, a.now())}); // the higher, committed first
      REQUIRE(heard_b.wait_for(ready_of(id)));
      std::this_thread::sleep_for(300ms);
      CHECK_FALSE(heard_b.heard(
        [](const store_event& e) { return e.execution_id == "late"; }));
      c->commit();
      CHECK(heard_b.wait_for([](const store_event& e) {
        return e.kind == type::finished && e.execution_id == "late"
               && e.parent_id == "parent-1" && e.from_other_process;
      }));
      CHECK_FALSE(heard_b.heard(is_resync));
    }
    SUBCASE("after the gap timeout: a resync, then the row all the same") {
      auto o = db.opts;
      o.announce_gap_timeout = 200ms;
      durable::storage::mysql_store a{db.opts};
      durable::storage::mysql_store b{o};
      recorder heard_b{b};
      auto hand = hand_announcer(db);
      auto c = db.connect();
      c->exec("START TRANSACTION");
      hand.publish(*c, {finished("later")});
      auto id = durable::make_execution_id();
      a.insert({ready_row(id, a.now())});
      REQUIRE(heard_b.wait_for(ready_of(id)));
      REQUIRE(heard_b.wait_for(is_resync, 3s));
      CHECK_FALSE(heard_b.heard(
        [](const store_event& e) { return e.execution_id == "later"; }));
      c->commit();
      CHECK(heard_b.wait_for([](const store_event& e) {
        return e.kind == type::finished && e.execution_id == "later";
      }));
      CHECK(heard_b.count(is_resync) == 1);
    }
  }

  TEST_CASE("a killed reader connection reconnects and emits resync") {
    database db;
    durable::storage::mysql_store a{db.opts};
    durable::storage::mysql_store b{db.opts};
    recorder heard_b{b};
    auto first = durable::make_execution_id();
    a.insert({ready_row(first, a.now())});
    REQUIRE(heard_b.wait_for(ready_of(first)));
    CHECK_FALSE(heard_b.heard(is_resync));
    // Kill every session on the database (both readers among them), as
    // a server restart or a proxy would.
    durable::test::mysql::exec_admin(
      "BEGIN NOT ATOMIC FOR c IN (SELECT id FROM "
      "information_schema.processlist WHERE db = '"
      + db.name
      + "' AND id <> CONNECTION_ID()) DO KILL CONNECTION c.id; END FOR; "
        "END");
    CHECK(heard_b.wait_for(is_resync));
    // Reconnected: the next commit arrives as before.
    auto second = durable::make_execution_id();
    a.insert({ready_row(second, a.now())});
    CHECK(heard_b.wait_for(ready_of(second)));
  }

  TEST_CASE("announcements off: nothing written, nothing remote heard") {
    database db;
    auto off = db.opts;
    off.announce = false;
    SUBCASE("a writer with announcements off") {
      durable::storage::mysql_store a{off};
      durable::storage::mysql_store b{db.opts};
      recorder heard_a{a};
      recorder heard_b{b};
      auto id = durable::make_execution_id();
      a.insert({ready_row(id, a.now())});
      CHECK(heard_a.count(ready_of(id)) == 1); // its own, in-process
      std::this_thread::sleep_for(300ms);
      CHECK(heard_b.calls() == 0);
      CHECK(db.count("SELECT COUNT(*) FROM events") == 0);
    }
    SUBCASE("a reader with announcements off") {
      durable::storage::mysql_store a{db.opts};
      durable::storage::mysql_store b{off};
      recorder heard_b{b};
      auto id = durable::make_execution_id();
      a.insert({ready_row(id, a.now())});
      CHECK(db.count("SELECT COUNT(*) FROM events") == 1);
      std::this_thread::sleep_for(300ms);
      CHECK(heard_b.calls() == 0);
    }
  }

  TEST_CASE("readers prune rows older than the retention") {
    database db;
    std::mutex clock_mutex;
    auto now = durable::system_now();
    auto o = db.opts;
    o.clock = [&] {
      std::lock_guard guard{clock_mutex};
      return now;
    };
    durable::storage::mysql_store a{o};
    durable::storage::mysql_store b{o};
    recorder heard_b{b};
    std::string last;
    for (int i = 0; i < 3; ++i) {
      last = durable::make_execution_id();
      a.insert({ready_row(last, a.now())});
    }
    REQUIRE(heard_b.wait_for(ready_of(last)));
    CHECK(db.count("SELECT COUNT(*) FROM events") == 3);
    {
      std::lock_guard guard{clock_mutex};
      now += o.announce_retention + 1s;
    }
    auto young = durable::make_execution_id();
    a.insert({ready_row(young, a.now())});
    REQUIRE(heard_b.wait_for(ready_of(young)));
    // B's next poll deletes the three old rows and keeps the young one.
    for (int i = 0; i < 250 && db.count("SELECT COUNT(*) FROM events") != 1;
         ++i)
      std::this_thread::sleep_for(20ms);
    CHECK(db.count("SELECT COUNT(*) FROM events") == 1);
    CHECK(db.count("SELECT COUNT(*) FROM events WHERE execution_id = '" + young
                   + "'")
          == 1);
    CHECK_FALSE(heard_b.heard(is_resync));
  }

  TEST_CASE("the reader's statements read events by its primary key") {
    database db;
    durable::storage::mysql_store a{db.opts}; // migrates
    auto hand = hand_announcer(db);
    auto c = db.connect();
    for (int i = 0; i < 300; ++i)
      hand.publish(*c, {finished(fmt::format("e{}", i))});
    c->exec("ANALYZE TABLE events");
    struct plan {
      std::string type, key;
    };
    auto explain = [&](const std::string& sql, int params) {
      auto q = c->prepare("EXPLAIN " + sql);
      q.bind(1, std::int64_t{150});
      if (params > 1)
        q.bind(2, std::int64_t{500});
      plan p;
      // id, select_type, table, type, possible_keys, key, ...
      if (q.step()) {
        p.type = q.text(3);
        p.key = q.text(5);
      }
      while (q.step()) {
      }
      return p;
    };
    auto poll = explain(detail::events_poll_sql(), 2);
    CHECK(poll.key == "PRIMARY");
    CHECK(poll.type == "range");
    auto one = explain(detail::events_by_seq_sql(), 1);
    CHECK(one.key == "PRIMARY");
    CHECK(one.type == "const");
    auto prune = explain(detail::events_prune_sql(), 1);
    CHECK(prune.key == "PRIMARY");
    CHECK(prune.type == "range");
  }

  TEST_CASE("cross-node latency: commit on A until B's listener hears it") {
    // Prints p50/p99 (ctest -L mysql -R latency -V); fails only when an
    // event is lost or far slower than the poll interval explains.
    for (auto interval : {10ms, 2ms}) {
      auto l = measure_latency(interval, 300);
      CHECK(l.lost == 0);
      CHECK(l.after_commit_p50_ms
            < 10.0 * static_cast<double>(interval.count()));
    }
  }
}
