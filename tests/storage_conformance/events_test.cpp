#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>

#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;
using type = store_event::type;

namespace {

/// Events compared without regard to order (the interface fixes none).
using event_key = std::tuple<type, std::string, std::string, std::string,
                             timestamp>;

std::vector<event_key> keys_of(const std::vector<store_event>& events) {
  std::vector<event_key> out;
  for (const auto& e : events)
    out.emplace_back(e.kind, e.execution_id, e.parent_id, e.owner, e.at);
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_SUITE("storage.conformance.events") {
  DURABLE_CONFORMANCE_CASE(
    "insert announces work_ready at the earliest start_at") {
    fixture f{Backend::make};
    event_recorder rec{*f.store};
    auto now = f.clock.now();
    auto a = f.make_row("te_a");
    a.start_at = now + 2s;
    auto b = f.make_row("te_b");
    b.start_at = now + 1s;
    auto c = f.make_row("te_c");
    c.start_at = now + 3s;
    f.put({a, b, c});
    auto calls = rec.calls();
    REQUIRE(calls.size() == 1);
    REQUIRE(calls[0].size() == 1);
    CHECK(calls[0][0].kind == type::work_ready);
    CHECK(calls[0][0].at == now + 1s);
    CHECK(calls[0][0].execution_id == "te_b");
  }

  DURABLE_CONFORMANCE_CASE("insert announces a deadline per sleeping row") {
    fixture f{Backend::make};
    event_recorder rec{*f.store};
    auto s1 = f.make_sleeper("te_s1", "w1", 5s);
    auto s2 = f.make_sleeper("te_s2", "w2", 7s);
    f.put({s1, s2});
    CHECK(rec.of(type::work_ready).empty());
    CHECK(keys_of(rec.events())
          == keys_of({{type::deadline, "te_s1", {}, {}, *s1.expires_at},
                      {type::deadline, "te_s2", {}, {}, *s2.expires_at}}));
    CHECK(rec.calls().size() == 1);
  }

  DURABLE_CONFORMANCE_CASE("a commit without events calls no listener") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    f.put(f.make_sleeper("te_s", "wake"));
    auto w = f.make_row("te_w");
    w.start_at += 1h; // not claimed below
    f.put(w);
    event_recorder rec{*f.store};
    auto done = f.make_row("te_done");
    done.status = execution_status::completed;
    f.put(done);                           // no ready or sleeping row
    f.store->insert({f.make_row("te_x")}); // duplicate only
    f.store->insert({f.make_sleeper("te_s2", "wake")});
    auto stale = f.touch(r);
    stale.expected_version += 1;
    f.store->apply({stale, f.touch(f.make_row("te_none"))});
    r = f.claim_one("te_x");
    f.apply(f.touch(r)); // running, unwatched
    f.store->renew_leases("owner_a", 1min);
    f.store->release_leases("owner_a");
    f.store->watch("te_w");
    f.clock.advance(2min);
    f.store->scan_sleepers(10);
    f.store->erase("te_w");
    f.store->get("te_x");
    f.store->children_of("te_x");
    CHECK(rec.calls().empty());
  }

  DURABLE_CONFORMANCE_CASE(
    "only a finished child or watched execution is announced") {
    fixture f{Backend::make};
    auto top = f.put(f.make_row("te_top"));
    auto watched = f.put(f.make_row("te_watched"));
    watched = *f.store->watch("te_watched");
    auto p = f.put(f.make_row("te_p"));
    auto child = f.put(f.make_child(p, "te_child", 0));
    event_recorder rec{*f.store};
    f.clock.advance(1s);
    auto out = f.store->apply({f.finish(top, execution_status::completed),
                               f.finish(watched, execution_status::failed),
                               f.finish(child, execution_status::completed)});
    for (const auto& o : out)
      REQUIRE(o.status == write_status::applied);
    auto now = f.clock.now();
    CHECK(rec.calls().size() == 1);
    CHECK(keys_of(rec.events())
          == keys_of({{type::finished, "te_watched", {}, {}, now},
                      {type::finished, "te_child", "te_p", {}, now}}));
  }

  DURABLE_CONFORMANCE_CASE(
    "a transition announces ready work and sleeping children") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto r = f.put(f.make_row("te_r"));
    r = f.claim_one("te_r");
    event_recorder rec{*f.store};
    auto now = f.clock.now();
    auto wait = f.touch(p);
    wait.next.status = execution_status::waiting_for_children;
    auto c0 = f.make_child(p, "te_c0", 0);
    c0.start_at = now + 2s;
    auto c1 = f.make_child(p, "te_c1", 1);
    c1.start_at = now + 1s;
    auto s = f.make_sleeper("te_cs", "wake_c", 4s);
    s.parent = parent_link{p.task_id, p.id, 2, false, false};
    wait.children = {c0, c1, s};
    // A retry: back to ready, due in 5 s.
    auto retry = f.touch(r);
    retry.next.status = execution_status::ready;
    retry.next.owner.reset();
    retry.next.lease_expires_at.reset();
    retry.next.attempt += 1;
    retry.next.start_at = now + 5s;
    f.store->apply({wait, retry});
    CHECK(rec.calls().size() == 1);
    CHECK(keys_of(rec.events())
          == keys_of({{type::work_ready, "te_c1", {}, {}, now + 1s},
                      {type::deadline, "te_cs", {}, {}, *s.expires_at},
                      {type::work_ready, "te_r", {}, {}, now + 5s}}));
  }

  DURABLE_CONFORMANCE_CASE(
    "cancelling an owned execution announces its previous owner") {
    fixture f{Backend::make};
    f.put(f.make_row("te_owned"));
    auto owned = f.claim_one("te_owned", "owner_a");
    auto free = f.put(f.make_row("te_free"));
    auto failing_row = f.make_row("te_failing");
    failing_row.start_at -= 1ms; // so that it is claimed first
    f.put(failing_row);
    auto failing = f.claim_one("te_failing", "owner_b");
    event_recorder rec{*f.store};
    auto cancel = [&](const execution_record& r) {
      auto t = f.finish(r, execution_status::cancelled, "stop");
      t.next.owner.reset();
      return t;
    };
    f.store->apply({cancel(owned), cancel(free),
                    f.finish(failing, execution_status::failed)});
    CHECK(keys_of(rec.events())
          == keys_of(
            {{type::cancelled, "te_owned", {}, "owner_a", f.clock.now()}}));
  }

  DURABLE_CONFORMANCE_CASE(
    "cascade announces cancelled and finished per descendant") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p", "owner_a");
    auto wait = f.touch(p);
    wait.next.status = execution_status::waiting_for_children;
    auto c0 = f.make_child(p, "te_c0", 0);
    c0.start_at -= 1ms;
    auto c1 = f.make_child(p, "te_c1", 1);
    wait.children = {c0, c1};
    p = *f.apply(wait).current;
    f.claim_one("te_c0", "owner_b");
    auto c1_row = f.must_get("te_c1");
    auto g = f.make_child(c1_row, "te_g", 0);
    g.start_at += 1h;
    f.put(g);
    event_recorder rec{*f.store};
    f.clock.advance(1s);
    auto now = f.clock.now();
    auto fail = f.finish(p, execution_status::failed);
    fail.cancel_descendants = true;
    f.apply(fail);
    CHECK(rec.calls().size() == 1);
    CHECK(keys_of(rec.events())
          == keys_of({{type::cancelled, "te_c0", {}, "owner_b", now},
                      {type::finished, "te_c0", "te_p", {}, now},
                      {type::finished, "te_c1", "te_p", {}, now},
                      {type::finished, "te_g", "te_c1", {}, now}}));
  }

  DURABLE_CONFORMANCE_CASE(
    "a finished execution is announced with its row as stored") {
    fixture f{Backend::make};
    auto p = f.put(f.make_row("te_p"));
    p = f.claim_one("te_p");
    auto child = f.put(f.make_child(p, "te_child", 0));
    child = f.claim_one("te_child");
    f.put(f.make_row("te_watched"));
    auto watched = *f.store->watch("te_watched");
    event_recorder rec{*f.store};
    f.clock.advance(1s);
    auto done = f.finish(child, execution_status::completed);
    done.next.output = R"({"sum":42})";
    f.store->apply({done, f.finish(watched, execution_status::failed)});
    auto finished = rec.of(type::finished);
    REQUIRE(finished.size() == 2);
    for (const auto& e : finished) {
      REQUIRE(e.row != nullptr);
      check_same_row(f.must_get(e.execution_id), *e.row);
    }
    auto child_event = finished[0].execution_id == "te_child" ? finished[0]
                                                              : finished[1];
    CHECK(child_event.row->output == R"({"sum":42})");
    CHECK(child_event.row->status == execution_status::completed);
  }

  DURABLE_CONFORMANCE_CASE("watch makes a later finish announced") {
    fixture f{Backend::make};
    auto r = f.put(f.make_row("te_x"));
    event_recorder rec{*f.store};
    r = *f.store->watch("te_x");
    f.clock.advance(3s);
    f.apply(f.finish(r, execution_status::completed));
    auto finished = rec.of(type::finished);
    REQUIRE(finished.size() == 1);
    CHECK(finished[0].execution_id == "te_x");
    CHECK(finished[0].parent_id.empty());
    CHECK(finished[0].at == f.clock.now());
  }

  DURABLE_CONFORMANCE_CASE(
    "each commit calls each listener once with all its events") {
    fixture f{Backend::make};
    event_recorder one{*f.store};
    event_recorder two{*f.store};
    f.put({f.make_row("te_a"), f.make_sleeper("te_s1", "w1"),
           f.make_sleeper("te_s2", "w2")});
    for (auto* rec : {&one, &two}) {
      auto calls = rec->calls();
      REQUIRE(calls.size() == 1);
      CHECK(calls[0].size() == 3);
    }
    auto a = *f.store->watch("te_a");
    auto s1 = *f.store->watch("te_s1");
    f.store->apply({f.finish(a, execution_status::completed),
                    f.finish(s1, execution_status::completed)});
    for (auto* rec : {&one, &two}) {
      auto calls = rec->calls();
      REQUIRE(calls.size() == 2);
      CHECK(calls[1].size() == 2);
    }
  }

  DURABLE_CONFORMANCE_CASE(
    "unsubscribe stops the events of that listener only") {
    fixture f{Backend::make};
    event_recorder gone{*f.store};
    event_recorder kept{*f.store};
    f.put(f.make_row("te_1"));
    gone.unsubscribe();
    f.put(f.make_row("te_2"));
    CHECK(gone.calls().size() == 1);
    CHECK(kept.calls().size() == 2);
  }

  DURABLE_CONFORMANCE_CASE(
    "no listener call begins after unsubscribe returns") {
    fixture f{Backend::make};
    std::atomic<bool> unsubscribed{false};
    std::atomic<int> calls{0};
    std::atomic<int> late{0};
    auto token = f.store->subscribe([&](std::vector<store_event>) {
      if (unsubscribed.load())
        late.fetch_add(1);
      calls.fetch_add(1);
    });
    std::atomic<bool> stop{false};
    std::thread writer{[&] {
      for (int i = 0; !stop.load(); ++i)
        f.store->insert({f.make_row("te_" + std::to_string(i))});
    }};
    while (calls.load() < 200)
      std::this_thread::yield();
    f.store->unsubscribe(token);
    unsubscribed.store(true);
    auto seen = calls.load();
    while (f.store->get("te_" + std::to_string(seen + 200)) == std::nullopt)
      std::this_thread::yield();
    stop.store(true);
    writer.join();
    CHECK(late.load() == 0);
  }

} // TEST_SUITE
