#include "durable/transitions.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/ids.hpp"
#include "durable/payload.hpp"
#include "durable/utf8.hpp"

namespace durable::transitions {

namespace {

transition begin(execution_record&& r, timestamp now) {
  transition t;
  t.expected_version = r.version;
  t.next = std::move(r);
  t.next.updated_at = now;
  return t;
}

/// Every error the engine stores passes here: a message may quote what a
/// body threw, a wake-up's caller or a child's task id, and one invalid
/// byte would fail the whole commit it shares on PostgreSQL.
execution_error storable(execution_error e) {
  e.message = utf8::sanitize(std::move(e.message));
  return e;
}

void release_lease(execution_record& r) {
  r.owner.reset();
  r.lease_expires_at.reset();
}

nlohmann::json parse_or_text(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json(text) : parsed;
}

} // namespace

transition complete(execution_record r, std::string output, timestamp now) {
  return finish(std::move(r), execution_status::completed, std::move(output),
                std::nullopt, now);
}

transition fail_run(execution_record r, execution_error e, timestamp now,
                    millis delay) {
  bool retry = e.retryable && r.attempt < r.retry.max_attempts;
  if (!retry) {
    auto status = execution_status::failed;
    if (e.kind == error_kind::timed_out)
      status = execution_status::timed_out;
    else if (e.kind == error_kind::cancelled)
      status = execution_status::cancelled;
    return finish(std::move(r), status, std::nullopt, std::move(e), now);
  }
  auto t = begin(std::move(r), now);
  auto& n = t.next;
  n.status = execution_status::ready;
  n.attempt += 1;
  n.error = storable(std::move(e));
  n.start_at = now + delay;
  n.started_at.reset();
  n.expires_at.reset();
  n.run_output.reset();
  release_lease(n);
  return t;
}

transition run_returned(execution_record r, std::optional<std::string> output,
                        std::optional<execution_error> error,
                        std::size_t max_output_bytes, millis delay,
                        timestamp now) {
  if (error)
    return fail_run(std::move(r), std::move(*error), now, delay);
  auto out = std::move(output).value_or("null");
  if (auto e = payload_problem("Output", out, max_output_bytes))
    return finish(std::move(r), execution_status::failed, std::nullopt,
                  std::move(e), now);
  return complete(std::move(r), std::move(out), now);
}

transition finish(execution_record r, execution_status status,
                  std::optional<std::string> output,
                  std::optional<execution_error> e, timestamp now) {
  auto t = begin(std::move(r), now);
  auto& n = t.next;
  n.status = status;
  n.output = std::move(output);
  n.error = is_errored(status) && e ? std::optional{storable(std::move(*e))}
                                    : std::nullopt;
  n.finished_at = now;
  n.closed_at = now;
  n.run_output.reset();
  n.expires_at.reset();
  n.lease_expires_at.reset();
  if (status != execution_status::cancelled)
    n.owner.reset();
  t.cancel_descendants = is_errored(status);
  return t;
}

transition
wait_for_children(execution_record r, std::optional<std::string> run_output,
                  std::vector<execution_record> children, timestamp now) {
  auto t = begin(std::move(r), now);
  auto& n = t.next;
  n.status = execution_status::waiting_for_children;
  n.run_output = std::move(run_output);
  n.waiting_for_children_started_at = now;
  n.expires_at.reset();
  n.error.reset();
  n.children.clear();
  n.children.reserve(children.size());
  for (auto& c : children)
    n.children.push_back({c.task_id, c.id});
  t.children = std::move(children);
  return t;
}

transition wait_for_finalize(execution_record r,
                             std::optional<std::string> run_output,
                             execution_record finalize_child, timestamp now) {
  auto t = begin(std::move(r), now);
  auto& n = t.next;
  n.status = execution_status::waiting_for_finalize;
  if (run_output)
    n.run_output = std::move(run_output);
  n.waiting_for_finalize_started_at = now;
  if (!n.waiting_for_children_started_at)
    n.waiting_for_children_started_at = now;
  n.expires_at.reset();
  n.error.reset();
  n.finalize = execution_ref{finalize_child.task_id, finalize_child.id};
  t.children.push_back(std::move(finalize_child));
  return t;
}

transition finalize_ran(execution_record parent,
                        std::optional<std::string> run_output,
                        execution_record finalize, timestamp now) {
  auto t = wait_for_finalize(std::move(parent), std::move(run_output),
                             std::move(finalize), now);
  const auto& fin = t.children.back();
  if (!fin.is_finished())
    return t;
  transition end;
  if (fin.status == execution_status::completed) {
    end = complete(std::move(t.next), fin.output.value_or("null"), now);
  } else {
    auto e = finalize_task_error(t.next, fin);
    end = finish(std::move(t.next), execution_status::finalize_failed,
                 std::nullopt, std::move(e), now);
  }
  end.expected_version = t.expected_version;
  end.children = std::move(t.children);
  return end;
}

execution_error finalize_task_error(const execution_record& parent,
                                    const execution_record& fin) {
  if (fin.error)
    return *fin.error;
  return {error_kind::generic,
          fmt::format("Finalize task failed with an unknown error "
                      "[parentTaskId={}] [finalizeTaskId={}] "
                      "[finalizeExecutionId={}]",
                      parent.task_id, fin.task_id, fin.id),
          false, false};
}

transition next_step(execution_record r, execution_record child,
                     timestamp now) {
  auto t = begin(std::move(r), now);
  auto& n = t.next;
  if (n.status != execution_status::waiting_for_children) {
    n.status = execution_status::waiting_for_children;
    n.waiting_for_children_started_at = now;
  }
  n.expires_at.reset();
  n.error.reset();
  n.step = child.parent ? child.parent->index : 0;
  n.children.push_back({child.task_id, child.id});
  t.children.push_back(std::move(child));
  return t;
}

transition cancel(execution_record r, timestamp now) {
  return finish(std::move(r), execution_status::cancelled, std::nullopt,
                cancelled_error(), now);
}

transition expire_sleeper(execution_record r, timestamp now) {
  return finish(std::move(r), execution_status::timed_out, std::nullopt,
                timed_out_error(), now);
}

transition hand_back(execution_record r, timestamp now) {
  auto t = begin(std::move(r), now);
  t.next.owner.reset();
  // Long expired, not `now`: `now` is this node's estimate of the store's
  // clock, and a lease a few microseconds ahead of the store's own now
  // would keep the row from the take-over claim that follows at once.
  t.next.lease_expires_at = timestamp{};
  t.next.recoveries += 1;
  return t;
}

execution_record
make_child(const execution_record& parent, std::string task_id, task_kind kind,
           const task_options& opts, std::string input, std::uint32_t index,
           std::size_t siblings, bool is_finalize, timestamp now) {
  auto c = make_execution(std::move(task_id), kind, opts, std::move(input),
                          now);
  c.parent = parent_link{parent.task_id, parent.id, index, siblings == 1,
                         is_finalize};
  c.root = parent.root;
  c.traceparent = parent.traceparent;
  return c;
}

std::string children_outcome(const std::optional<std::string>& run_output,
                             const std::vector<execution_record>& children) {
  auto out = nlohmann::json::object();
  out["output"] = run_output ? parse_or_text(*run_output) : nullptr;
  auto list = nlohmann::json::array();
  for (const auto& c : children) {
    nlohmann::json entry{{"task_id", c.task_id},
                         {"execution_id", c.id},
                         {"status", to_string(c.status)}};
    if (c.status == execution_status::completed)
      entry["output"] = c.output ? parse_or_text(*c.output) : nullptr;
    else if (c.error)
      entry["error"] = *c.error;
    list.push_back(std::move(entry));
  }
  out["children"] = std::move(list);
  // Replace rather than throw: a row stored before outputs and messages
  // were checked (utf8.hpp) may still hold invalid UTF-8, and a throw here
  // would strand the parent.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace durable::transitions
