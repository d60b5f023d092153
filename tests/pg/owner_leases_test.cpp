#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "durable/storage/pg/outbox.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/store_rules.hpp"
#include "durable/transitions.hpp"
#include "pg/pg_backend.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/pg_fixture.hpp"

// The owner leases of the PostgreSQL store (migration 6, owner_floors.hpp):
// a floor per owner that gates the take-over of expired leases.

using namespace std::chrono_literals;
using namespace durable;
using namespace durable::test::conformance;
namespace pgs = durable::storage::pg;
namespace tpg = durable::test::pg;

namespace {

std::string table_of(const fixture& f, const std::string& name) {
  const auto& pg = static_cast<const pgs::pg_store&>(*f.store);
  return pgs::quote_ident(pg.schema()) + "." + name;
}

/// Every owner's stored floor.
std::map<std::string, timestamp> floors_of(const fixture& f) {
  pqxx::connection c{tpg::url()};
  pqxx::nontransaction tx{c};
  std::map<std::string, timestamp> out;
  for (const auto& row :
       tx.exec("SELECT owner, expires_at FROM " + table_of(f, "owner_leases")))
    out.emplace(row[0].c_str(), from_micros(row[1].as<std::int64_t>()));
  return out;
}

std::optional<timestamp> floor_of(const fixture& f, const std::string& owner) {
  auto all = floors_of(f);
  if (auto it = all.find(owner); it != all.end())
    return it->second;
  return std::nullopt;
}

void set_floor(const fixture& f, const std::string& owner, timestamp at) {
  tpg::exec_admin("UPDATE " + table_of(f, "owner_leases")
                  + " SET expires_at = " + std::to_string(to_micros(at))
                  + " WHERE owner = '" + owner + "'");
}

/// `row` stored already claimed by `owner` until now + `lease`.
execution_record claimed_by(const fixture& f, execution_record row,
                            const std::string& owner, millis lease) {
  store_rules::claim(row, f.clock.now(), owner, lease);
  return row;
}

} // namespace

TEST_SUITE("pg.owner_leases") {
  TEST_CASE("claims, renewals and releases keep each owner's lease floor") {
    fixture f{pg_backend::make};
    f.put({f.make_row("te_1"), f.make_row("te_2"), f.make_row("te_3")});
    REQUIRE(f.claim("owner_a", {"task_a"}, 1, 1s).claimed.size() == 1);
    CHECK(floor_of(f, "owner_a") == f.clock.now() + 1s);
    f.clock.advance(500ms);
    f.store->renew_leases("owner_a", 5s);
    // Rows whose lease runs longer than three quarters of the new one keep
    // theirs: the floor is the earliest lease a row may have after it.
    CHECK(floor_of(f, "owner_a") == f.clock.now() + 3750ms);
    // A claim with a shorter lease lowers the floor to its rows' lease; one
    // with a longer lease leaves it.
    REQUIRE(f.claim("owner_a", {"task_a"}, 1, 2s).claimed.size() == 1);
    CHECK(floor_of(f, "owner_a") == f.clock.now() + 2s);
    REQUIRE(f.claim("owner_a", {"task_a"}, 1, 10s).claimed.size() == 1);
    CHECK(floor_of(f, "owner_a") == f.clock.now() + 2s);
    f.clock.advance(1s);
    CHECK(f.store->release_leases("owner_a") == 3);
    CHECK(floor_of(f, "owner_a") == f.clock.now());
  }

  TEST_CASE("a claim does not look at the rows of an owner whose lease holds") {
    fixture f{pg_backend::make};
    f.put(f.make_row("te_live"));
    f.claim_one("te_live", "owner_live");
    f.put(f.make_row("te_dead"));
    f.claim_one("te_dead", "owner_dead");
    f.clock.advance(10s);
    f.store->renew_leases("owner_live", 60s);
    // Both rows' own leases lie in the past; only owner_dead's floor does.
    tpg::exec_admin("UPDATE " + table_of(f, "executions")
                    + " SET lease_expires_at = 0");
    f.clock.advance(25s);
    auto res = f.claim("owner_b", {"task_a"}, 10, 1min);
    CHECK(ids_of(res.claimed) == std::vector<std::string>{"te_dead"});
    // Once the live owner's floor passes, its row is taken over too.
    f.clock.advance(40s);
    CHECK(ids_of(f.claim("owner_b", {"task_a"}, 10, 1min).claimed)
          == std::vector<std::string>{"te_live"});
  }

  TEST_CASE(
    "rows stored already claimed lower their owner's floor when needed") {
    fixture f{pg_backend::make};
    const auto t0 = f.clock.now();
    f.put(claimed_by(f, f.make_row("te_1"), "owner_x", 1s));
    CHECK(floor_of(f, "owner_x") == t0 + 1s);
    // The store knows the floor it wrote: a row whose lease is not earlier
    // needs no write (the floor moved behind its back stays where it is).
    set_floor(f, "owner_x", t0 + 10s);
    f.put(claimed_by(f, f.make_row("te_2"), "owner_x", 2s));
    CHECK(floor_of(f, "owner_x") == t0 + 10s);
    // An earlier one does.
    f.put(claimed_by(f, f.make_row("te_3"), "owner_x", 500ms));
    CHECK(floor_of(f, "owner_x") == t0 + 500ms);
    // So do children stored already claimed, with a transition.
    f.put(f.make_row("te_parent"));
    auto parent = f.claim_one("te_parent");
    auto kid = claimed_by(f, f.make_child(parent, "te_kid", 0), "owner_y", 3s);
    auto out = f.apply(transitions::wait_for_children(parent, std::nullopt,
                                                      {kid}, f.clock.now()));
    REQUIRE(out.status == write_status::applied);
    CHECK(floor_of(f, "owner_y") == t0 + 3s);
    // And a dead node's row is taken over once its lease ran out.
    f.clock.advance(1s);
    CHECK(ids_of(f.claim("owner_b").claimed)
          == std::vector<std::string>{"te_3", "te_1"});
  }

  TEST_CASE(
    "an outbox insert of rows already claimed lowers their owner's floor") {
    fixture f{pg_backend::make};
    auto& pg = static_cast<pgs::pg_store&>(*f.store);
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    auto out = pgs::insert_in(
      pg, tx, {claimed_by(f, f.make_row("te_out"), "owner_q", 2s)});
    REQUIRE(out.at(0).result == insert_outcome::kind::inserted);
    tx.commit();
    CHECK(floor_of(f, "owner_q") == f.clock.now() + 2s);
    f.clock.advance(2s);
    CHECK(ids_of(f.claim("owner_b").claimed)
          == std::vector<std::string>{"te_out"});
  }

  TEST_CASE("an owner gone for an hour loses its floor once it holds no rows") {
    fixture f{pg_backend::make};
    f.put({f.make_row("te_a"), f.make_row("te_b")});
    f.claim_one("te_a", "owner_a");
    auto b = f.claim_one("te_b", "owner_b");
    f.apply(f.finish(b, execution_status::completed));
    f.clock.advance(2h);
    // owner_b holds nothing: gone. owner_a's row is taken over in the same
    // claim, so owner_a still held it when the claim looked.
    CHECK(ids_of(f.claim("owner_c").claimed)
          == std::vector<std::string>{"te_a"});
    auto floors = floors_of(f);
    CHECK(floors.count("owner_a") == 1);
    CHECK(floors.count("owner_b") == 0);
    CHECK(floors.count("owner_c") == 1);
    f.claim("owner_c");
    floors = floors_of(f);
    CHECK(floors.count("owner_a") == 0);
    CHECK(floors.count("owner_c") == 1);
  }

  TEST_CASE("an owner back after its floor was deleted stores it again") {
    // A node frozen for over an hour: its floor passed long ago, its rows
    // were taken over and finished, and a take-over deleted its floor. When
    // it resumes and stores rows it claimed before its next renewal, their
    // owner needs a floor again, or they are never taken over if it dies.
    fixture f{pg_backend::make};
    f.put(claimed_by(f, f.make_row("te_1"), "owner_x", 1s));
    REQUIRE(floor_of(f, "owner_x").has_value());
    f.clock.advance(2s);
    auto lost = f.claim_one("te_1", "owner_b");
    f.apply(f.finish(lost, execution_status::completed));
    f.clock.advance(2h);
    f.claim("owner_c");
    REQUIRE_FALSE(floor_of(f, "owner_x").has_value());
    f.put(claimed_by(f, f.make_row("te_2"), "owner_x", 1s));
    CHECK(floor_of(f, "owner_x") == f.clock.now() + 1s);
    f.clock.advance(1s);
    CHECK(ids_of(f.claim("owner_b").claimed)
          == std::vector<std::string>{"te_2"});
  }

  TEST_CASE("migration 6 gives every owner of active rows its floor") {
    fixture f{pg_backend::make};
    const auto t0 = f.clock.now();
    f.put(claimed_by(f, f.make_row("te_x1"), "owner_x", 5s));
    f.put(claimed_by(f, f.make_row("te_x2"), "owner_x", 3s));
    f.put(f.make_row("te_parent"));
    auto parent = f.claim_one("te_parent", "owner_y");
    f.apply(transitions::wait_for_children(
      parent, std::nullopt, {f.make_child(parent, "te_kid", 0)}, t0));
    auto done = f.claim_one("te_kid", "owner_z");
    f.apply(f.finish(done, execution_status::completed));
    // The same rows in a schema at version 5.
    const auto old = tpg::unique_schema();
    struct drop {
      std::string name;
      ~drop() {
        try {
          tpg::drop_schema(name);
        } catch (...) {
        }
      }
    } guard{old};
    pqxx::connection c{tpg::url()};
    REQUIRE(pgs::migrate(c, old, 5) == 5);
    // The columns version 5 has: later migrations add more.
    std::string columns;
    {
      pqxx::nontransaction q{c};
      columns = q.exec_params1("SELECT string_agg(quote_ident(column_name), "
                               "',' ORDER BY ordinal_position) FROM "
                               "information_schema.columns WHERE "
                               "table_schema = $1 AND table_name = "
                               "'executions'",
                               old)[0]
                  .c_str();
    }
    tpg::exec_admin("INSERT INTO " + pgs::quote_ident(old) + ".executions ("
                    + columns + ") SELECT " + columns + " FROM "
                    + table_of(f, "executions"));
    CHECK(pgs::migrate(c, old, 6) == 1);
    pqxx::nontransaction tx{c};
    std::map<std::string, timestamp> floors;
    for (const auto& row : tx.exec("SELECT owner, expires_at FROM "
                                   + pgs::quote_ident(old) + ".owner_leases"))
      floors.emplace(row[0].c_str(), from_micros(row[1].as<std::int64_t>()));
    // owner_z's only row finished: no floor.
    CHECK(floors
          == std::map<std::string, timestamp>{{"owner_x", t0 + 3s},
                                              {"owner_y", t0 + 30s}});
    auto indexes = tx.exec_params(
      "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes "
      "WHERE schemaname = $1 AND indexname IN ('executions_leased', "
      "'executions_unowned')",
      old);
    CHECK(std::string{indexes[0][0].c_str()} == "executions_unowned");
  }

} // TEST_SUITE
