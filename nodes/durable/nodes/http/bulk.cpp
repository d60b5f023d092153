#include "durable/nodes/http/bulk.hpp"

#include <functional>

#include <fmt/format.h>

#include "durable/nodes/http/api_error.hpp"
#include "durable/status.hpp"

namespace durable::nodes::http {

namespace {

/// Fills in the default statuses, or refuses one outside `allowed`.
void check_statuses(execution_filter& f, bool (*allowed)(execution_status),
                    std::string_view action) {
  if (f.statuses.empty()) {
    for (auto s :
         {execution_status::ready, execution_status::running,
          execution_status::waiting_for_children,
          execution_status::waiting_for_finalize, execution_status::completed,
          execution_status::failed, execution_status::timed_out,
          execution_status::finalize_failed, execution_status::cancelled})
      if (allowed(s))
        f.statuses.push_back(s);
    return;
  }
  for (auto s : f.statuses)
    if (!allowed(s))
      throw api_error::bad_request(fmt::format(
        "Executions in status {} cannot be {}", to_string(s), action));
}

/// Calls `act` on each execution the request chooses, newest first, until
/// `limit`; `act` says whether it acted (and adds the id it reports).
bulk_result for_each_chosen(
  durable::executor& exec, const bulk_request& req,
  const std::function<bool(const execution_record&, bulk_result&)>& act) {
  if (req.limit < 1 || req.limit > max_bulk_limit)
    throw api_error::bad_request(
      fmt::format("Query parameter limit must be 1 to {}", max_bulk_limit));
  bulk_result out;
  list_request page_req;
  page_req.filter = req.filter;
  page_req.limit = list_request::max_limit;
  for (;;) {
    auto page = exec.storage()->list(page_req);
    for (const auto& r : page.rows) {
      if (out.matched == req.limit) {
        out.more = true;
        return out;
      }
      ++out.matched;
      if (req.dry_run) {
        out.execution_ids.push_back(r.id);
        continue;
      }
      if (act(r, out))
        ++out.acted;
      else
        ++out.skipped;
    }
    if (page.next_cursor.empty())
      return out;
    page_req.cursor = std::move(page.next_cursor);
  }
}

} // namespace

bulk_result bulk_cancel(durable::executor& exec, bulk_request req) {
  check_statuses(req.filter, is_active, "cancelled");
  return for_each_chosen(
    exec, req, [&exec](const execution_record& r, bulk_result& out) {
      // Finished since it was listed, or cancelled by the cascade of an
      // ancestor this call cancelled: not this call's to count.
      if (is_finished(exec.get(r.id).status))
        return false;
      if (exec.cancel(r.id).status != execution_status::cancelled)
        return false;
      out.execution_ids.push_back(r.id);
      return true;
    });
}

bulk_result bulk_retry(durable::executor& exec, bulk_request req) {
  check_statuses(req.filter, is_errored, "retried");
  auto retry = [&exec](const execution_record& r, bulk_result& out) {
    if (r.parent || r.kind == task_kind::sleeping)
      return false;
    enqueue_options o;
    o.idempotency_key = "retry-of:" + r.id;
    // The redrive continues the trace the failed tree was part of.
    o.traceparent = r.traceparent.to_optional();
    try {
      auto ids = exec.enqueue_raw(r.task_id, {r.input}, o);
      out.execution_ids.push_back(ids.at(0));
      return true;
    } catch (const durable::error& e) {
      // This execution cannot be enqueued again (its task is not
      // registered here, its input no longer parses): skip it alone. A
      // failure worth retrying (the store) ends the call.
      if (e.is_retryable())
        throw;
      return false;
    }
  };
  return for_each_chosen(exec, req, retry);
}

} // namespace durable::nodes::http
