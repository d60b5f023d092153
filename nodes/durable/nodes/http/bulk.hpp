#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "durable/actors/executor.hpp"
#include "durable/list_query.hpp"

/// Cancel or retry many executions at once, chosen by a filter: what
/// `POST /v1/executions/cancel` and `POST /v1/executions/retry` do.
///
/// The executions are those a listing with `filter` finds (newest first;
/// `filter.error_contains` chooses by error message), up to `limit`.
/// Each is acted on alone through the executor, as single calls are: a
/// cancel cascades to the execution's unfinished descendants; a retry
/// enqueues the same task with the same input, with the idempotency key
/// `retry-of:<id>`, so the new execution names the one it retries and
/// running the same bulk retry twice creates no second retry of anything.
///
/// Threading: any thread; the calls block on the store. Errors: throws
/// api_error 400 for a filter the action cannot take (a finished status
/// to cancel, a status other than the four errored ones to retry); a store
/// failure propagates. Executions acted on before a failure stay so.
namespace durable::nodes::http {

struct bulk_request {
  execution_filter filter;
  std::size_t limit = 1000;
  bool dry_run = false;
};

/// The most executions one bulk call acts on.
inline constexpr std::size_t max_bulk_limit = 10'000;

struct bulk_result {
  /// Executions the filter chose (at most `limit`).
  std::size_t matched = 0;
  /// Of those, cancelled or retried by this call (0 for a dry run).
  std::size_t acted = 0;
  /// Chosen but left alone: a child or a sleeping execution, or one whose
  /// enqueue is refused (its task is not registered on this node, its
  /// input no longer parses), is not retried; an execution that finished
  /// meanwhile is not cancelled.
  std::size_t skipped = 0;
  /// The executions acted on: for a cancel their ids, for a retry the new
  /// executions' ids (a dry run: the ids it would act on).
  std::vector<std::string> execution_ids;
  /// More executions match than `limit`: call again.
  bool more = false;
};

/// Cancels the unfinished executions `req` chooses. With no status in the
/// filter, every unfinished status.
bulk_result bulk_cancel(durable::executor& exec, bulk_request req);

/// Retries the failed, timed-out, finalize-failed or cancelled top-level
/// executions `req` chooses. With no status in the filter, those four.
bulk_result bulk_retry(durable::executor& exec, bulk_request req);

} // namespace durable::nodes::http
