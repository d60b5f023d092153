#pragma once

#include "durable/execution_record.hpp"

namespace durable::test {

/// The creation time of full_record(); its other times are a few
/// milliseconds later.
inline const timestamp full_record_t0 = from_micros(1'700'000'000'123'456);

/// A row with every field set and off its default (execution_fields_test
/// checks that, so a field added to the list must be set here too).
inline execution_record full_record() {
  const auto t0 = full_record_t0;
  execution_record r;
  r.id = "exec-1";
  r.task_id = "child";
  r.kind = task_kind::sleeping;
  r.parent = parent_link{"parent", "exec-0", 7, true, true};
  r.root = execution_ref{"root", "exec-r"};
  r.sleeping_id = "order-42";
  r.idempotency_key = "key-1";
  r.retry = retry_options{3, millis{100}, 2.5, millis{4000}, jitter_mode::full};
  r.sleep_before_run = millis{250};
  r.timeout = millis{5000};
  r.input = R"({"x":1})";
  r.output = "42";
  r.run_output = R"("spawned")";
  r.error = execution_error{error_kind::timed_out, "too slow", true, true};
  r.status = execution_status::finalize_failed;
  r.version = 17;
  r.attempt = 2;
  r.recoveries = 1;
  r.owner = "incarnation-a";
  r.lease_expires_at = t0 + millis{6000};
  r.start_at = t0 + millis{1};
  r.created_at = t0;
  r.updated_at = t0 + millis{2};
  r.started_at = t0 + millis{3};
  r.expires_at = t0 + millis{4};
  r.waiting_for_children_started_at = t0 + millis{5};
  r.waiting_for_finalize_started_at = t0 + millis{6};
  r.finished_at = t0 + millis{7};
  r.closed_at = t0 + millis{8};
  r.children = {{"child", "c-1"}, {"child", "c-2"}};
  r.finalize = execution_ref{"fin", "f-1"};
  r.step = 3;
  r.watched = true;
  r.traceparent = std::string{
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
  return r;
}

} // namespace durable::test
