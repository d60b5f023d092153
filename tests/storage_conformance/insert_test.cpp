#include "storage_conformance/conformance.hpp"

using namespace durable;
using namespace durable::test::conformance;
using kind = insert_outcome::kind;

TEST_SUITE("storage.conformance.insert") {
  DURABLE_CONFORMANCE_CASE("insert stores every field of a row") {
    fixture f{Backend::make};
    auto t = f.clock.now();
    execution_record r;
    r.id = "te_round_trip";
    r.task_id = "task_rt";
    r.kind = task_kind::parent;
    r.parent = parent_link{"task_p", "te_parent", 7, true, false};
    r.root = {"task_root", "te_root"};
    r.sleeping_id = "sleep_1";
    r.idempotency_key = "key_1";
    r.retry = retry_options{3, 250ms, 2.5, 10s, jitter_mode::equal};
    r.sleep_before_run = 1500ms;
    r.timeout = 2500ms;
    r.input = R"({"a":1,"b":[true,null]})";
    r.output = "[1,2]";
    r.run_output = "\"run\"";
    r.error = execution_error{error_kind::timed_out, "late", true, true};
    r.status = execution_status::waiting_for_children;
    r.version = 5;
    r.attempt = 2;
    r.recoveries = 1;
    r.owner = "de_owner";
    r.lease_expires_at = t + 7s;
    r.start_at = t + 1us;
    r.created_at = t;
    r.updated_at = t + 3us;
    r.started_at = t + 5us;
    r.expires_at = t + 9s;
    r.waiting_for_children_started_at = t + 11us;
    r.waiting_for_finalize_started_at = t + 13us;
    r.finished_at = t + 17us;
    r.closed_at = t + 19us;
    r.children = {{"task_c", "te_c1"}, {"task_c", "te_c2"}};
    r.finalize = execution_ref{"task_f", "te_f"};
    r.step = 4;
    r.watched = true;
    auto stored = f.put(r);
    check_same_row(r, stored);
  }

  DURABLE_CONFORMANCE_CASE(
    "insert keeps quotes and backslashes and unicode and SQL text intact") {
    fixture f{Backend::make};
    const std::vector<std::string> ids{
      "te_'; DROP TABLE executions; --",
      "te_\"double\" and 'single' quotes",
      "te_back\\slash\\\\ and \\n not a newline",
      "te_\xc3\xbcnic\xc3\xb8"
      "de_\xe6\x97\xa5\xe6\x9c\xac_\xf0\x9f\x99\x82",
      "te_%_like_[x]_$1_:name_?",
    };
    std::vector<execution_record> rows;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto r = f.make_row(ids[i]);
      r.input = R"({"q":"it's \"quoted\"","b":"back\\slash","u":"\u00fc )"
                "\xf0\x9f\x99\x82\",\"sql\":\"'); DELETE FROM x; --\"}";
      r.output = "\"" + std::to_string(i) + "\\\\'\"";
      r.sleeping_id = ids[i] + "/sleep";
      r.idempotency_key = ids[i] + "/key";
      r.owner = ids[i] + "/owner";
      r.error = execution_error{error_kind::generic, ids[i] + "\nline 2", false,
                                false};
      r.children = {{"task_a", ids[i] + "/child"}};
      rows.push_back(r);
    }
    f.put(rows);
    for (const auto& r : rows) {
      check_same_row(r, f.must_get(r.id));
      auto by_sleep = f.store->get_by_sleeping_id(*r.sleeping_id);
      REQUIRE(by_sleep.has_value());
      CHECK(by_sleep->id == r.id);
    }
    // The idempotency keys work with the same text.
    auto again = f.make_row("te_other");
    again.idempotency_key = rows[0].idempotency_key;
    auto out = f.store->insert({again});
    REQUIRE(out.size() == 1);
    CHECK(out[0].result == kind::duplicate_key);
    CHECK(out[0].execution_id == ids[0]);
  }

  DURABLE_CONFORMANCE_CASE("insert keeps absent optional fields absent") {
    fixture f{Backend::make};
    auto r = f.make_row("te_plain");
    REQUIRE_FALSE(r.parent.has_value());
    auto stored = f.put(r);
    check_same_row(r, stored);
    CHECK_FALSE(stored.output.has_value());
    CHECK_FALSE(stored.error.has_value());
    CHECK_FALSE(stored.owner.has_value());
    CHECK_FALSE(stored.lease_expires_at.has_value());
    CHECK_FALSE(stored.finished_at.has_value());
    CHECK_FALSE(stored.retry.max_delay.has_value());
    CHECK(stored.input == "null");
  }

  DURABLE_CONFORMANCE_CASE("insert reports one outcome per row in order") {
    fixture f{Backend::make};
    auto out = f.store->insert(
      {f.make_row("te_1"), f.make_row("te_2"), f.make_row("te_3")});
    REQUIRE(out.size() == 3);
    for (std::size_t i = 0; i < out.size(); ++i) {
      CHECK(out[i].result == kind::inserted);
      CHECK(out[i].execution_id == "te_" + std::to_string(i + 1));
    }
  }

  DURABLE_CONFORMANCE_CASE(
    "insert rejects a duplicate execution id but stores the rest") {
    fixture f{Backend::make};
    auto original = f.put(f.make_row("te_dup"));
    auto dup = f.make_row("te_dup", "task_b");
    dup.input = "\"changed\"";
    auto out = f.store->insert(
      {f.make_row("te_before"), dup, f.make_row("te_after")});
    REQUIRE(out.size() == 3);
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::duplicate_id);
    CHECK(out[1].execution_id == "te_dup");
    CHECK(out[2].result == kind::inserted);
    check_same_row(original, f.must_get("te_dup"));
    CHECK(f.store->get("te_before").has_value());
    CHECK(f.store->get("te_after").has_value());
  }

  DURABLE_CONFORMANCE_CASE(
    "insert rejects a duplicate sleeping id but stores the rest") {
    fixture f{Backend::make};
    f.put(f.make_sleeper("te_s1", "wake_me"));
    auto out = f.store->insert(
      {f.make_sleeper("te_s2", "wake_me"), f.make_sleeper("te_s3", "other")});
    REQUIRE(out.size() == 2);
    CHECK(out[0].result == kind::duplicate_sleeping_id);
    CHECK(out[0].execution_id == "te_s1");
    CHECK(out[1].result == kind::inserted);
    CHECK_FALSE(f.store->get("te_s2").has_value());
    CHECK(f.store->get("te_s3").has_value());
    CHECK(f.store->get_by_sleeping_id("wake_me")->id == "te_s1");
  }

  DURABLE_CONFORMANCE_CASE(
    "insert rejects a sleeping id repeated in one batch") {
    fixture f{Backend::make};
    auto out = f.store->insert(
      {f.make_sleeper("te_s1", "same"), f.make_sleeper("te_s2", "same")});
    REQUIRE(out.size() == 2);
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::duplicate_sleeping_id);
    CHECK(out[1].execution_id == "te_s1");
    CHECK_FALSE(f.store->get("te_s2").has_value());
  }

  DURABLE_CONFORMANCE_CASE(
    "insert with a known idempotency key returns the existing execution") {
    fixture f{Backend::make};
    auto first = f.make_row("te_first");
    first.idempotency_key = "order-42";
    auto stored = f.put(first);
    auto second = f.make_row("te_second");
    second.idempotency_key = "order-42";
    second.input = "\"other\"";
    auto out = f.store->insert({second});
    REQUIRE(out.size() == 1);
    CHECK(out[0].result == kind::duplicate_key);
    CHECK(out[0].execution_id == "te_first");
    CHECK_FALSE(f.store->get("te_second").has_value());
    check_same_row(stored, f.must_get("te_first"));
  }

  DURABLE_CONFORMANCE_CASE(
    "insert returns the first row for a key repeated in one batch") {
    fixture f{Backend::make};
    auto a = f.make_row("te_a");
    a.idempotency_key = "k";
    auto b = f.make_row("te_b");
    b.idempotency_key = "k";
    auto out = f.store->insert({a, b});
    REQUIRE(out.size() == 2);
    CHECK(out[0].result == kind::inserted);
    CHECK(out[1].result == kind::duplicate_key);
    CHECK(out[1].execution_id == "te_a");
    CHECK_FALSE(f.store->get("te_b").has_value());
  }

  DURABLE_CONFORMANCE_CASE("insert of an empty batch does nothing") {
    fixture f{Backend::make};
    event_recorder rec{*f.store};
    CHECK(f.store->insert({}).empty());
    CHECK(rec.calls().empty());
    CHECK(f.claim().claimed.empty());
  }

} // TEST_SUITE
