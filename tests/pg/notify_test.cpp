#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/outbox.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "support/pg_fixture.hpp"

using namespace std::chrono_literals;
using namespace durable;
namespace pgs = durable::storage::pg;
namespace tpg = durable::test::pg;

namespace {

/// Collects what a store's listeners hear, for waiting on it.
class inbox {
public:
  void operator()(std::vector<store_event> events) {
    std::lock_guard guard{mtx_};
    for (auto& e : events)
      events_.push_back(std::move(e));
    cv_.notify_all();
  }

  /// Waits (hang guard: 20 s) until an event satisfies `pred`.
  template <class Pred>
  std::optional<store_event> wait_for(Pred pred) {
    std::unique_lock guard{mtx_};
    std::optional<store_event> found;
    cv_.wait_for(guard, 20s, [&] {
      for (const auto& e : events_)
        if (pred(e)) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }

  std::vector<store_event> snapshot() {
    std::lock_guard guard{mtx_};
    return events_;
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<store_event> events_;
};

/// Two stores on one schema, as two nodes of a cluster would open them.
struct two_nodes {
  std::string schema = tpg::unique_schema();
  std::shared_ptr<store> a;
  std::shared_ptr<store> b;
  inbox heard_by_a;
  inbox heard_by_b;

  explicit two_nodes(bool b_listens = true) {
    a = pgs::postgres(tpg::options(schema));
    auto opts = tpg::options(schema);
    opts.listen = b_listens;
    b = pgs::postgres(opts);
    a->subscribe([this](auto ev) { heard_by_a(std::move(ev)); });
    b->subscribe([this](auto ev) { heard_by_b(std::move(ev)); });
  }

  ~two_nodes() {
    a.reset();
    b.reset();
    try {
      tpg::drop_schema(schema);
    } catch (...) {
    }
  }
};

execution_record make_row(store& s, std::string id,
                          std::optional<std::string> parent = {}) {
  task_options opts;
  opts.id = "task_a";
  opts.timeout = 10s;
  auto r = make_execution("task_a", task_kind::task, opts, "null", s.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  if (parent)
    r.parent = parent_link{"parent_task", *parent, 0, false, false};
  r.start_at -= 1s;
  return r;
}

claim_request claim_all(std::string owner) {
  return {std::move(owner), 30s, 10, {"task_a"}};
}

auto is(store_event::type t, std::string id = {}) {
  return [t, id](const store_event& e) {
    return e.kind == t && (id.empty() || e.execution_id == id);
  };
}

} // namespace

TEST_SUITE("notify") {
  TEST_CASE("a notification payload round-trips coalesced events") {
    std::vector<store_event> events{
      {store_event::type::work_ready, "te_late", {}, {}, from_micros(2'000)},
      {store_event::type::work_ready, "te_early", {}, {}, from_micros(1'000)},
      {store_event::type::finished,
       "te_child",
       "te_parent",
       {},
       from_micros(3'000)},
      {store_event::type::cancelled,
       "te_x",
       {},
       "de_owner",
       from_micros(4'000)},
      {store_event::type::deadline, "te_s1", {}, {}, from_micros(9'000)},
      {store_event::type::deadline, "te_s2", {}, {}, from_micros(8'000)},
    };
    auto payload = pgs::encode_notification("de_sender", events);
    REQUIRE(payload.has_value());
    auto n = pgs::decode_notification(*payload);
    REQUIRE(n.has_value());
    CHECK(n->sender == "de_sender");
    CHECK_FALSE(n->overflow);
    REQUIRE(n->events.size() == 4);
    CHECK(n->events[0].kind == store_event::type::finished);
    CHECK(n->events[0].execution_id == "te_child");
    CHECK(n->events[0].parent_id == "te_parent");
    CHECK(n->events[0].at == from_micros(3'000));
    CHECK(n->events[1].kind == store_event::type::cancelled);
    CHECK(n->events[1].owner == "de_owner");
    CHECK(n->events[2].kind == store_event::type::work_ready);
    CHECK(n->events[2].execution_id == "te_early");
    CHECK(n->events[3].kind == store_event::type::deadline);
    CHECK(n->events[3].at == from_micros(8'000));
  }

  TEST_CASE("a commit too big for one notification asks for a resync") {
    std::vector<store_event> events;
    for (int i = 0; i < 1000; ++i)
      events.push_back({store_event::type::finished,
                        "te_child_" + std::to_string(i),
                        "te_parent",
                        {},
                        from_micros(i)});
    auto payload = pgs::encode_notification("de_sender", events);
    REQUIRE(payload.has_value());
    CHECK(payload->size() < pgs::max_notification_bytes);
    auto n = pgs::decode_notification(*payload);
    REQUIRE(n.has_value());
    CHECK(n->overflow);
    CHECK(n->events.empty());
    CHECK_FALSE(pgs::encode_notification("de_sender", {}).has_value());
  }

  TEST_CASE("foreign payloads on the channel are ignored") {
    for (std::string bad :
         {"", "hello", "d1", "d1 de_x\nq 1 te_a - -",
          "d1 de_x\nf notanumber "
          "te_a - -",
          "d1 de_x\nf 1 te_a -", "d2 de_x", "d1 de_x *\nf 1 a - -"})
      CHECK_FALSE(pgs::decode_notification(bad).has_value());
  }

  TEST_CASE("a long schema name still gives a valid channel name") {
    auto ch = pgs::notification_channel(std::string(80, 's'));
    CHECK(ch.size() <= 63);
    CHECK(ch != pgs::notification_channel(std::string(81, 's')));
    CHECK(pgs::notification_channel("durable") == "durable_events_durable");
  }

  TEST_CASE("another store hears new ready work at once") {
    two_nodes n;
    n.a->insert({make_row(*n.a, "te_new")});
    auto e = n.heard_by_b.wait_for(is(store_event::type::work_ready));
    REQUIRE(e.has_value());
    CHECK(e->execution_id == "te_new");
    CHECK(e->from_other_process);
    // The committing store heard its own commit once, in-process.
    auto own = n.heard_by_a.snapshot();
    CHECK(
      std::count_if(own.begin(), own.end(), is(store_event::type::work_ready))
      == 1);
    for (const auto& mine : own)
      CHECK_FALSE(mine.from_other_process);
  }

  TEST_CASE("another store hears a child finish and a cancel with its owner") {
    two_nodes n;
    n.a->insert(
      {make_row(*n.a, "te_child", "te_parent"), make_row(*n.a, "te_other")});
    auto claimed = n.a->claim(claim_all("de_node_a")).claimed;
    REQUIRE(claimed.size() == 2);
    for (auto& row : claimed) {
      transition t;
      t.next = row;
      t.expected_version = row.version;
      t.next.status = row.id == "te_child" ? execution_status::completed
                                           : execution_status::cancelled;
      t.next.owner.reset();
      REQUIRE(n.a->apply({t}).at(0).status == write_status::applied);
    }
    auto fin = n.heard_by_b.wait_for(
      is(store_event::type::finished, "te_child"));
    REQUIRE(fin.has_value());
    CHECK(fin->parent_id == "te_parent");
    auto cancel = n.heard_by_b.wait_for(
      is(store_event::type::cancelled, "te_other"));
    REQUIRE(cancel.has_value());
    CHECK(cancel->owner == "de_node_a");
  }

  /// A transition of `row` to `status`, without its owner.
  transition finishing(const execution_record& row, execution_status status) {
    transition t;
    t.next = row;
    t.expected_version = row.version;
    t.next.status = status;
    t.next.owner.reset();
    t.next.finished_at = row.updated_at;
    return t;
  }

  /// Two children of te_parent (te_c1, te_c2), stored and claimed by a.
  std::vector<execution_record> claimed_children(two_nodes & n) {
    n.a->insert({make_row(*n.a, "te_c1", "te_parent"),
                 make_row(*n.a, "te_c2", "te_parent")});
    auto claimed = n.a->claim(claim_all("de_node_a")).claimed;
    REQUIRE(claimed.size() == 2);
    return claimed;
  }

  TEST_CASE("a batch of children's ends is announced exactly, without resync") {
    two_nodes n;
    auto claimed = claimed_children(n);
    auto out = n.a->apply({finishing(claimed[0], execution_status::completed),
                           finishing(claimed[1], execution_status::failed)});
    REQUIRE(out.at(0).status == write_status::applied);
    REQUIRE(out.at(1).status == write_status::applied);
    for (auto id : {"te_c1", "te_c2"}) {
      INFO(id);
      auto fin = n.heard_by_b.wait_for(is(store_event::type::finished, id));
      REQUIRE(fin.has_value());
      CHECK(fin->parent_id == "te_parent");
    }
    auto heard = n.heard_by_b.snapshot();
    CHECK(
      std::none_of(heard.begin(), heard.end(), is(store_event::type::resync)));
  }

  TEST_CASE("a batch in which a transition conflicts announces no false end") {
    two_nodes n;
    auto claimed = claimed_children(n);
    auto stale = finishing(claimed[1], execution_status::completed);
    stale.expected_version += 1;
    auto out = n.a->apply(
      {finishing(claimed[0], execution_status::completed), stale});
    REQUIRE(out.at(0).status == write_status::applied);
    REQUIRE(out.at(1).status == write_status::conflict);
    CHECK(out.at(1).current->status == execution_status::running);
    // The other store learns of te_c1's end (or re-checks everything), and
    // never hears of an end that did not happen.
    CHECK(n.heard_by_b
            .wait_for([](const store_event& e) {
              return (e.kind == store_event::type::finished
                      && e.execution_id == "te_c1")
                     || e.kind == store_event::type::resync;
            })
            .has_value());
    for (const auto& e : n.heard_by_b.snapshot())
      CHECK(e.execution_id != "te_c2");
    // The committing store heard exactly what applied.
    auto own = n.heard_by_a.snapshot();
    CHECK(std::count_if(own.begin(), own.end(),
                        is(store_event::type::finished, "te_c1"))
          == 1);
    CHECK(std::none_of(own.begin(), own.end(),
                       is(store_event::type::finished, "te_c2")));
  }

  TEST_CASE("another store hears a watched top-level execution finish") {
    two_nodes n;
    n.a->insert({make_row(*n.a, "te_top")});
    auto claimed = n.a->claim(claim_all("de_node_a")).claimed;
    REQUIRE(claimed.size() == 1);
    // b watches it after a read the row: a's transition says unwatched.
    REQUIRE(n.b->watch("te_top").has_value());
    REQUIRE(n.a->apply({finishing(claimed[0], execution_status::completed)})
              .at(0)
              .status
            == write_status::applied);
    auto e = n.heard_by_b.wait_for([](const store_event& e) {
      return (e.kind == store_event::type::finished
              && e.execution_id == "te_top")
             || e.kind == store_event::type::resync;
    });
    CHECK(e.has_value());
  }

  TEST_CASE("a drain that hands leases back wakes the other stores") {
    two_nodes n;
    n.a->insert({make_row(*n.a, "te_held")});
    REQUIRE(n.a->claim(claim_all("de_node_a")).claimed.size() == 1);
    CHECK(n.a->release_leases("de_node_a") == 1);
    // The hand-back names no row: it says "claim now".
    auto e = n.heard_by_b.wait_for([](const store_event& e) {
      return e.kind == store_event::type::work_ready && e.execution_id.empty();
    });
    CHECK(e.has_value());
  }

  TEST_CASE("rows inserted in a caller transaction are announced at commit") {
    two_nodes n;
    auto& pg = static_cast<pgs::pg_store&>(*n.a);
    pqxx::connection c{tpg::url()};
    pqxx::work tx{c};
    pgs::insert_in(pg, tx, {make_row(pg, "te_outbox")});
    tx.commit();
    // Both stores hear it: the commit was not made through either of them.
    CHECK(n.heard_by_a.wait_for(is(store_event::type::work_ready, "te_outbox"))
            .has_value());
    CHECK(n.heard_by_b.wait_for(is(store_event::type::work_ready, "te_outbox"))
            .has_value());
  }

  TEST_CASE("a store that does not listen hears only its own commits") {
    two_nodes n{false};
    n.a->insert({make_row(*n.a, "te_unheard")});
    n.b->insert({make_row(*n.b, "te_own")});
    REQUIRE(n.heard_by_b.wait_for(is(store_event::type::work_ready, "te_own"))
              .has_value());
    // a's commit came first; had b been listening it would have arrived by
    // now (b's own insert is later on the same server). Give it a little
    // longer anyway before concluding.
    std::this_thread::sleep_for(300ms);
    for (const auto& e : n.heard_by_b.snapshot())
      CHECK(e.execution_id != "te_unheard");
  }

  TEST_CASE("a broken listener link reconnects and asks for a resync") {
    two_nodes n;
    // Terminate b's LISTEN session, as a server restart or failover would.
    int killed = 0;
    for (int attempt = 0; attempt < 100 && killed == 0; ++attempt) {
      pqxx::connection c{tpg::url()};
      pqxx::nontransaction tx{c};
      auto r = tx.exec_params(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND query ILIKE $1",
        "%LISTEN%" + pgs::notification_channel(n.schema) + "%");
      killed = static_cast<int>(r.size());
      if (killed == 0)
        std::this_thread::sleep_for(50ms);
    }
    REQUIRE(killed >= 1);
    CHECK(n.heard_by_b.wait_for(is(store_event::type::resync)).has_value());
    // And it listens again.
    n.a->insert({make_row(*n.a, "te_after")});
    CHECK(n.heard_by_b.wait_for(is(store_event::type::work_ready, "te_after"))
            .has_value());
  }

} // TEST_SUITE
