#include <string>

#include <doctest/doctest.h>

#include "durable/store_rules.hpp"
#include "durable/transitions.hpp"

namespace durable::test {

namespace {

using store_rules::is_claimable;

const timestamp now = from_micros(1'700'000'000'000'000);
constexpr millis lease{6000};

execution_record row(execution_status status,
                     task_kind kind = task_kind::task) {
  task_options o;
  o.id = "t";
  o.timeout = millis{30'000};
  auto r = make_execution("t", kind, o, "null", now - millis{60'000});
  r.status = status;
  r.version = 3;
  return r;
}

execution_record leased(execution_status status, timestamp expires,
                        task_kind kind = task_kind::task) {
  auto r = row(status, kind);
  r.owner = "de_old";
  r.lease_expires_at = expires;
  return r;
}

execution_record failed_parent() {
  auto p = row(execution_status::failed, task_kind::parent);
  p.task_id = "parent_task";
  p.error = execution_error{error_kind::generic, "boom", false, false};
  return p;
}

} // namespace

TEST_SUITE("core.store_rules") {
  TEST_CASE("a ready row is claimable once start_at is due") {
    auto r = row(execution_status::ready);
    r.start_at = now;
    CHECK(is_claimable(r, now));
    r.start_at = now - millis{1};
    CHECK(is_claimable(r, now));
  }

  TEST_CASE("a ready row is not claimable before start_at") {
    auto r = row(execution_status::ready);
    r.start_at = now + std::chrono::microseconds{1};
    CHECK_FALSE(is_claimable(r, now));
  }

  TEST_CASE("a running row is claimable once its lease has expired") {
    CHECK(is_claimable(leased(execution_status::running, now), now));
    CHECK(is_claimable(leased(execution_status::running, now - lease), now));
  }

  TEST_CASE("a running row with an unexpired lease is not claimable") {
    auto r = leased(execution_status::running,
                    now + std::chrono::microseconds{1});
    CHECK_FALSE(is_claimable(r, now));
  }

  TEST_CASE("a running row without a lease is claimable") {
    CHECK(is_claimable(row(execution_status::running), now));
  }

  TEST_CASE("a sleeping execution is never claimable") {
    auto r = row(execution_status::running, task_kind::sleeping);
    CHECK_FALSE(is_claimable(r, now));
    r.lease_expires_at = now - lease;
    CHECK_FALSE(is_claimable(r, now));
    r.expires_at = now - lease;
    CHECK_FALSE(is_claimable(r, now));
  }

  TEST_CASE("a waiting parent is claimable only once its lease has expired") {
    for (auto status : {execution_status::waiting_for_children,
                        execution_status::waiting_for_finalize}) {
      CAPTURE(to_string(status));
      CHECK(is_claimable(leased(status, now, task_kind::parent), now));
      CHECK_FALSE(
        is_claimable(leased(status, now + lease, task_kind::parent), now));
    }
  }

  TEST_CASE("a finished row is never claimable") {
    for (auto status :
         {execution_status::completed, execution_status::failed,
          execution_status::timed_out, execution_status::finalize_failed,
          execution_status::cancelled}) {
      CAPTURE(to_string(status));
      auto r = row(status);
      r.start_at = now - lease;
      CHECK_FALSE(is_claimable(r, now));
      r.lease_expires_at = now - lease;
      CHECK_FALSE(is_claimable(r, now));
    }
  }

  TEST_CASE("claiming a ready row starts it under the new owner's lease") {
    auto r = row(execution_status::ready);
    r.attempt = 2;
    r.recoveries = 1;
    store_rules::claim(r, now, "de_me", lease);
    CHECK_EQ(r.status, execution_status::running);
    CHECK_EQ(r.started_at, now);
    CHECK_EQ(r.expires_at, now + millis{30'000});
    CHECK_EQ(r.owner, "de_me");
    CHECK_EQ(r.lease_expires_at, now + lease);
    CHECK_EQ(r.version, 4);
    CHECK_EQ(r.updated_at, now);
    CHECK_EQ(r.attempt, 2);
    CHECK_EQ(r.recoveries, 1);
  }

  TEST_CASE("claiming an expired running row counts one recovery") {
    auto r = leased(execution_status::running, now - millis{1});
    r.attempt = 1;
    r.started_at = now - millis{40'000};
    r.expires_at = now - millis{10'000};
    store_rules::claim(r, now, "de_me", lease);
    CHECK_EQ(r.status, execution_status::running);
    CHECK_EQ(r.recoveries, 1);
    CHECK_EQ(r.attempt, 1);
    CHECK_EQ(r.started_at, now);
    CHECK_EQ(r.expires_at, now + millis{30'000});
    CHECK_EQ(r.owner, "de_me");
    CHECK_EQ(r.lease_expires_at, now + lease);
    CHECK_EQ(r.version, 4);
  }

  TEST_CASE("claiming a released running row counts no recovery") {
    auto r = row(execution_status::running);
    r.recoveries = 1;
    store_rules::claim(r, now, "de_me", lease);
    CHECK_EQ(r.recoveries, 1);
    CHECK_EQ(r.status, execution_status::running);
    CHECK_EQ(r.started_at, now);
    CHECK_EQ(r.owner, "de_me");
  }

  TEST_CASE("a row handed back keeps its status, loses its owner and is "
            "claimable at once with one recovery counted") {
    for (auto status :
         {execution_status::running, execution_status::waiting_for_children}) {
      CAPTURE(status);
      auto r = leased(status, now + lease,
                      status == execution_status::running ? task_kind::task
                                                          : task_kind::parent);
      auto t = transitions::hand_back(r, now);
      CHECK_EQ(t.expected_version, r.version);
      CHECK_EQ(t.next.status, status);
      CHECK_FALSE(t.next.owner.has_value());
      REQUIRE(t.next.lease_expires_at.has_value());
      CHECK(*t.next.lease_expires_at < now);
      CHECK_EQ(t.next.recoveries, r.recoveries + 1);
      CHECK_EQ(t.next.updated_at, now);
      auto stored = t.next;
      stored.version = t.expected_version + 1;
      CHECK(is_claimable(stored, now));
      // The claim counts none of its own: the row has no owner.
      store_rules::claim(stored, now, "de_next", lease);
      CHECK_EQ(stored.recoveries, r.recoveries + 1);
      CHECK_EQ(stored.owner, "de_next");
    }
  }

  TEST_CASE("claiming a waiting parent keeps its status and counts a "
            "recovery") {
    // Its owner died supervising it: counted as for a running body, so that
    // a parent whose inline finalize crashes every adopter trips
    // max_recoveries.
    auto r = leased(execution_status::waiting_for_children, now,
                    task_kind::parent);
    r.started_at = now - millis{50'000};
    r.expires_at = now - millis{20'000};
    r.waiting_for_children_started_at = now - millis{30'000};
    store_rules::claim(r, now, "de_me", lease);
    CHECK_EQ(r.status, execution_status::waiting_for_children);
    CHECK_EQ(r.recoveries, 1);
    CHECK_EQ(r.started_at, now - millis{50'000});
    CHECK_EQ(r.expires_at, now - millis{20'000});
    CHECK_EQ(r.waiting_for_children_started_at, now - millis{30'000});
    CHECK_EQ(r.owner, "de_me");
    CHECK_EQ(r.lease_expires_at, now + lease);
    CHECK_EQ(r.version, 4);
  }

  TEST_CASE("parent_failed_error names the parent and its error") {
    auto p = failed_parent();
    auto e = store_rules::parent_failed_error(p);
    CHECK_EQ(e.message, "Parent task failed [parentTaskId=parent_task] "
                        "[parentExecutionId="
                          + p.id + "]: boom");
    CHECK_EQ(e.kind, error_kind::cancelled);
    CHECK_FALSE(e.retryable);
    CHECK_FALSE(e.internal);
  }

  TEST_CASE("cancel_descendant ends the descendant cancelled and closed") {
    auto p = failed_parent();
    auto r = leased(execution_status::waiting_for_children, now + lease,
                    task_kind::parent);
    r.run_output = "1";
    auto later = now + millis{5};
    store_rules::cancel_descendant(r, p, later);
    CHECK_EQ(r.status, execution_status::cancelled);
    CHECK_EQ(r.error, store_rules::parent_failed_error(p));
    CHECK_EQ(r.finished_at, later);
    CHECK_EQ(r.closed_at, later);
    CHECK_EQ(r.updated_at, later);
    CHECK_FALSE(r.run_output.has_value());
    CHECK_FALSE(r.lease_expires_at.has_value());
    CHECK_EQ(r.version, 4);
    CHECK_FALSE(is_claimable(r, later + lease));
  }

  TEST_CASE("a live sleeper is running, sleeping and has a deadline") {
    using store_rules::is_live_sleeper;
    auto r = row(execution_status::running, task_kind::sleeping);
    r.expires_at = now + lease;
    CHECK(is_live_sleeper(r));
    auto no_deadline = r;
    no_deadline.expires_at.reset();
    CHECK_FALSE(is_live_sleeper(no_deadline));
    for (auto status :
         {execution_status::ready, execution_status::completed,
          execution_status::failed, execution_status::cancelled}) {
      auto ended = r;
      ended.status = status;
      INFO(to_string(status));
      CHECK_FALSE(is_live_sleeper(ended));
    }
    auto body = row(execution_status::running);
    body.expires_at = now + lease;
    CHECK_FALSE(is_live_sleeper(body));
  }

  TEST_CASE("parent_id_of names the parent, or nothing for a top-level row") {
    auto r = row(execution_status::ready);
    CHECK_EQ(store_rules::parent_id_of(r), "");
    r.parent = parent_link{"parent_task", "te_parent", 2, false, false};
    CHECK_EQ(store_rules::parent_id_of(r), "te_parent");
  }

} // TEST_SUITE

} // namespace durable::test
