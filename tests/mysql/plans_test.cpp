#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql_store.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/mysql_fixture.hpp"

// The MySQL store's plans (every query the calls run uses an index, read
// from EXPLAIN) and what only a shared server shows: two stores on one
// database never claim the same row, and a row the server refuses fails
// alone.

namespace {

namespace detail = durable::storage::mysql_detail;
using durable::test::conformance::fixture;

/// A fixture whose store is on a database this test also reaches.
struct shared_db {
  std::string database = durable::test::mysql::unique_database();

  ~shared_db() {
    durable::test::mysql::exec_admin("DROP DATABASE IF EXISTS `" + database
                                     + "`");
  }

  std::shared_ptr<durable::store>
  make(std::function<durable::timestamp()> clock = {}) {
    auto o = durable::test::mysql::options(database);
    if (clock)
      o.clock = std::move(clock);
    return std::make_shared<durable::storage::mysql_store>(std::move(o));
  }

  std::unique_ptr<detail::connection> connect() {
    durable::storage::mysql_options o;
    return std::make_unique<detail::connection>(
      detail::parse_url(durable::test::mysql::url_for(database)), o);
  }
};

/// The index EXPLAIN names for the first table of `sql` (with `bind` run
/// on the query), and its access type.
struct plan {
  std::string key;
  std::string type;
  std::string extra;
};

template <class Bind>
plan explain(detail::connection& db, const std::string& sql, Bind bind) {
  auto q = db.prepare("EXPLAIN " + sql);
  bind(q);
  plan p;
  // id, select_type, table, type, possible_keys, key, key_len, ref, rows,
  // Extra: the first row is the outer table.
  if (q.step()) {
    p.type = q.text(3);
    p.key = q.text(5);
    p.extra = q.text(9);
  }
  while (q.step()) {
  }
  return p;
}

} // namespace

TEST_CASE("mysql: every query of the store calls uses its index") {
  shared_db db;
  fixture f{[&](auto clock) { return db.make(std::move(clock)); }};
  // Enough rows of several tasks and statuses that a scan costs more than
  // an index.
  std::vector<durable::execution_record> rows;
  for (int i = 0; i < 300; ++i) {
    auto r = f.make_row("r" + std::to_string(i),
                        "task_" + std::to_string(i % 10));
    if (i % 3 == 0)
      r.idempotency_key = "k" + std::to_string(i);
    rows.push_back(std::move(r));
  }
  for (int i = 0; i < 30; ++i)
    rows.push_back(
      f.make_sleeper("s" + std::to_string(i), "sleep" + std::to_string(i)));
  f.put(rows);
  f.claim("owner_a", {"task_1", "task_2"}, 50);
  auto conn = db.connect();
  conn->exec("ANALYZE TABLE executions");
  const std::int64_t now = durable::to_micros(f.clock.now());
  auto text = [](const std::string& s) {
    return [s](detail::query& q) { q.bind(1, s); };
  };
  // The claim's candidates as the store sends them.
  auto claim_text = [](std::string_view sql) {
    return std::string{sql}
           + std::string{detail::connection::dialect.skip_locked};
  };
  struct expectation {
    std::string what;
    std::string sql;
    std::function<void(detail::query&)> bind;
    std::set<std::string> keys;
  };
  std::vector<expectation> cases{
    {"get", detail::by_id_sql(), text("r7"), {"PRIMARY"}},
    {"get_by_sleeping_id",
     detail::by_sleeping_id_sql(),
     text("sleep3"),
     {"executions_sleeping_id"}},
    {"idempotency key",
     detail::id_by_key_sql,
     text("k3"),
     {"executions_idempotency_key"}},
    {"children_of", detail::children_sql(), text("r1"), {"executions_parent"}},
    {"claim: ready",
     claim_text(detail::ready_sql),
     [&](detail::query& q) {
       q.bind(1, std::string{"task_3"}).bind(2, now).bind(3, std::int64_t{10});
     },
     {"executions_ready"}},
    {"claim: expired",
     claim_text(detail::expired_sql),
     [&](detail::query& q) {
       q.bind(1, std::string{"task_1"}).bind(2, now).bind(3, std::int64_t{10});
     },
     {"executions_leased"}},
    {"claim: released",
     claim_text(detail::unleased_sql),
     [&](detail::query& q) {
       q.bind(1, std::string{"task_1"}).bind(2, std::int64_t{10});
     },
     {"executions_leased"}},
    {"claim: next ready",
     detail::next_ready_sql,
     [&](detail::query& q) { q.bind(1, std::string{"task_3"}).bind(2, now); },
     {"executions_ready"}},
    {"renew_leases",
     detail::owned_ids_sql,
     text("owner_a"),
     {"executions_owner"}},
    {"scan_sleepers",
     detail::sleepers_due_sql(),
     [&](detail::query& q) { q.bind(1, now).bind(2, std::int64_t{10}); },
     {"executions_sleepers"}},
    {"next deadline",
     detail::next_deadline_sql,
     [&](detail::query& q) { q.bind(1, now); },
     {"executions_sleepers"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto p = explain(*conn, c.sql, c.bind);
    CAPTURE(p.type);
    CAPTURE(p.key);
    CAPTURE(p.extra);
    // MIN() over the index's prefix is one index descent at planning:
    // "Select tables optimized away" (or no row for it), no table access.
    if (p.type.empty()
        && (p.extra.find("optimized away") != std::string::npos
            || p.extra.find("No matching min/max row") != std::string::npos))
      continue;
    CHECK(c.keys.contains(p.key));
    CHECK(p.type != "ALL");
  }
}

TEST_CASE("mysql: two stores on one database never claim the same row") {
  shared_db db;
  auto a = db.make();
  auto b = db.make();
  fixture f{[&](auto) { return a; }};
  std::vector<durable::execution_record> rows;
  for (int i = 0; i < 400; ++i)
    rows.push_back(f.make_row("c" + std::to_string(i)));
  // The fixture's clock is fake; these stores use the server's, which may
  // be a few milliseconds behind this machine's (the offset's error is
  // half a round trip): the rows were due a minute ago.
  for (auto& r : rows)
    r.start_at = r.created_at = r.updated_at = durable::system_now()
                                               - std::chrono::minutes{1};
  a->insert(rows);
  std::vector<std::string> got_a, got_b;
  auto drain = [](durable::store& s, std::string owner,
                  std::vector<std::string>& out) {
    durable::claim_request req;
    req.owner = std::move(owner);
    req.lease = durable::millis{30000};
    req.limit = 7;
    req.task_ids = {"task_a"};
    for (int i = 0; i < 200; ++i) {
      auto res = s.claim(req);
      if (res.claimed.empty())
        break;
      for (auto& r : res.claimed)
        out.push_back(r.id);
    }
  };
  std::thread ta{[&] { drain(*a, "owner_a", got_a); }};
  std::thread tb{[&] { drain(*b, "owner_b", got_b); }};
  ta.join();
  tb.join();
  std::set<std::string> all(got_a.begin(), got_a.end());
  for (const auto& id : got_b)
    CHECK_MESSAGE(all.insert(id).second, id << " claimed twice");
  CHECK(all.size() == rows.size());
}

TEST_CASE("mysql: a row the server refuses fails alone") {
  shared_db db;
  fixture f{[&](auto clock) { return db.make(std::move(clock)); }};
  // ids are VARBINARY(255): a longer one is refused by the server.
  auto ok = f.make_row("fine");
  auto too_long = f.make_row(std::string(300, 'x'));
  auto out = f.store->insert({ok, too_long});
  REQUIRE(out.size() == 2);
  CHECK(out[0].result == durable::insert_outcome::kind::inserted);
  CHECK(out[1].result == durable::insert_outcome::kind::refused);
  CHECK_FALSE(out[1].reason.empty());
  CHECK(f.store->get("fine"));
}
