#include "durable/options.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/error.hpp"

namespace durable {

namespace {

using namespace option_limits;

constexpr millis max_base_delay{max_base_delay_ms};
constexpr millis max_max_delay{max_max_delay_ms};
constexpr std::size_t max_task_id_length = 255;

[[noreturn]] void invalid_retry(std::string_view task_id,
                                std::string_view why) {
  throw error::non_retryable(
    fmt::format("Invalid retry options for task {}: {}", task_id, why));
}

[[noreturn]] void invalid_options(std::string_view why) {
  throw error::non_retryable(fmt::format("Invalid options: {}", why));
}

} // namespace

void to_json(nlohmann::json& j, const retry_options& r) {
  j = nlohmann::json{{"max_attempts", r.max_attempts},
                     {"base_delay_ms", r.base_delay.count()},
                     {"multiplier", r.multiplier},
                     {"jitter", static_cast<int>(r.jitter)}};
  if (r.max_delay)
    j["max_delay_ms"] = r.max_delay->count();
}

void from_json(const nlohmann::json& j, retry_options& r) {
  r.max_attempts = j.at("max_attempts").get<int>();
  r.base_delay = millis{j.value("base_delay_ms", std::int64_t{0})};
  r.multiplier = j.value("multiplier", 1.0);
  r.jitter = static_cast<jitter_mode>(j.value("jitter", 0));
  if (auto it = j.find("max_delay_ms"); it != j.end() && !it->is_null())
    r.max_delay = millis{it->get<std::int64_t>()};
  else
    r.max_delay.reset();
}

void to_json(nlohmann::json& j, const enqueue_options& o) {
  j = nlohmann::json::object();
  if (o.retry)
    j["retry"] = *o.retry;
  if (o.sleep_before_run)
    j["sleep_before_run_ms"] = o.sleep_before_run->count();
  if (o.timeout)
    j["timeout_ms"] = o.timeout->count();
  if (o.idempotency_key)
    j["idempotency_key"] = *o.idempotency_key;
  if (o.traceparent)
    j["traceparent"] = *o.traceparent;
}

void from_json(const nlohmann::json& j, enqueue_options& o) {
  o = {};
  if (auto it = j.find("retry"); it != j.end() && !it->is_null())
    o.retry = it->get<retry_options>();
  if (auto it = j.find("sleep_before_run_ms"); it != j.end())
    o.sleep_before_run = millis{it->get<std::int64_t>()};
  if (auto it = j.find("timeout_ms"); it != j.end())
    o.timeout = millis{it->get<std::int64_t>()};
  if (auto it = j.find("idempotency_key"); it != j.end())
    o.idempotency_key = it->get<std::string>();
  if (auto it = j.find("traceparent"); it != j.end())
    o.traceparent = it->get<std::string>();
}

std::optional<std::string_view> task_id_problem(std::string_view id) noexcept {
  if (id.empty())
    return "Task id cannot be empty";
  if (id.size() > max_task_id_length)
    return "Task id cannot be longer than 255 characters";
  for (char c : id) {
    bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '_';
    if (!word)
      return "Task id can only contain alphanumeric characters and "
             "underscores";
  }
  return std::nullopt;
}

bool is_valid_task_id(std::string_view id) noexcept {
  return !task_id_problem(id);
}

void validate(const retry_options& r, std::string_view task_id) {
  if (r.max_attempts < 0 || r.max_attempts > max_retry_attempts)
    invalid_retry(task_id, fmt::format("max_attempts must be in 0..{}",
                                       max_retry_attempts));
  if (r.base_delay.count() < 0 || r.base_delay > max_base_delay)
    invalid_retry(task_id, "base_delay must be in 0..3600000 ms");
  if (!std::isfinite(r.multiplier) || r.multiplier < min_multiplier
      || r.multiplier > max_multiplier)
    invalid_retry(task_id, "multiplier must be in 0.1..10");
  if (r.max_delay) {
    if (r.max_delay->count() < 0 || *r.max_delay > max_max_delay)
      invalid_retry(task_id, "max_delay must be in 0..86400000 ms");
    if (*r.max_delay < r.base_delay)
      invalid_retry(task_id, "max_delay must be >= base_delay");
  }
  if (r.jitter > jitter_mode::equal)
    invalid_retry(task_id, "unknown jitter mode");
}

void validate(const task_options& opts) {
  // The id itself stays out of the message: it may be any bytes.
  if (auto problem = task_id_problem(opts.id))
    throw error::non_retryable(std::string{*problem});
  if (opts.timeout.count() < 1 || opts.timeout.count() > max_timeout_ms)
    throw error::non_retryable(
      fmt::format("Invalid timeout value for task {}: must be in 1..{} ms",
                  opts.id, max_timeout_ms));
  if (opts.sleep_before_run.count() < 0
      || opts.sleep_before_run.count() > max_sleep_before_run_ms)
    throw error::non_retryable(
      fmt::format("Invalid sleep ms before run for task {}: must be in "
                  "0..{} ms",
                  opts.id, max_sleep_before_run_ms));
  validate(opts.retry, opts.id);
}

task_options merge(const task_options& base, const enqueue_options& o) {
  auto result = base;
  if (o.retry)
    result.retry = *o.retry;
  if (o.sleep_before_run)
    result.sleep_before_run = *o.sleep_before_run;
  if (o.timeout)
    result.timeout = *o.timeout;
  validate(result);
  return result;
}

namespace {

/// The field of `d` (retention_options or task_retention, const or not)
/// that holds the duration of final status `s`; null for any other status.
/// The one place that maps statuses to those fields.
template <class Durations>
auto duration_field(Durations& d, execution_status s) noexcept
  -> decltype(&d.completed) {
  switch (s) {
    case execution_status::completed:
      return &d.completed;
    case execution_status::failed:
      return &d.failed;
    case execution_status::timed_out:
      return &d.timed_out;
    case execution_status::finalize_failed:
      return &d.finalize_failed;
    case execution_status::cancelled:
      return &d.cancelled;
    default:
      return nullptr;
  }
}

} // namespace

millis retention_options::for_status(execution_status s) const noexcept {
  const auto* d = duration_field(*this, s);
  return d ? *d : millis{0};
}

std::optional<millis>
task_retention::for_status(execution_status s) const noexcept {
  const auto* d = duration_field(*this, s);
  return d ? *d : std::nullopt;
}

void task_retention::set(execution_status s, millis d) noexcept {
  if (auto* field = duration_field(*this, s))
    *field = d;
}

void task_retention::set_all(millis d) noexcept {
  completed = failed = timed_out = finalize_failed = cancelled = d;
}

millis retention_options::for_task(std::string_view task_id,
                                   execution_status s) const noexcept {
  if (auto it = tasks.find(task_id); it != tasks.end())
    if (auto d = it->second.for_status(s))
      return *d;
  return for_status(s);
}

bool retention_options::enabled() const noexcept {
  if (completed.count() > 0 || failed.count() > 0 || timed_out.count() > 0
      || finalize_failed.count() > 0 || cancelled.count() > 0)
    return true;
  for (const auto& [task, t] : tasks)
    for (const auto& d :
         {t.completed, t.failed, t.timed_out, t.finalize_failed, t.cancelled})
      if (d && d->count() > 0)
        return true;
  return false;
}

void validate(const executor_options& o) {
  auto in = [](auto value, auto lo, auto hi) {
    return value >= lo && value <= hi;
  };
  constexpr std::size_t kib = 1024;
  constexpr std::size_t mib = 1024 * kib;
  if (!in(o.max_concurrent, std::size_t{1}, std::size_t{1'000'000}))
    invalid_options("max_concurrent must be in 1..1000000");
  if (!in(o.claim_batch_size, std::size_t{1}, std::size_t{1000}))
    invalid_options("claim_batch_size must be in 1..1000");
  if (!in(o.max_children, std::size_t{1}, std::size_t{1000}))
    invalid_options("max_children must be in 1..1000");
  if (!in(o.max_input_bytes, kib, 10 * mib))
    invalid_options("max_input_bytes must be in 1 KiB..10 MiB");
  if (!in(o.max_output_bytes, kib, 10 * mib))
    invalid_options("max_output_bytes must be in 1 KiB..10 MiB");
  if (!in(o.worker_threads, std::size_t{1}, std::size_t{4096}))
    invalid_options("worker_threads must be in 1..4096");
  if (o.max_queued_blocking > 1'000'000)
    invalid_options("max_queued_blocking must be in 0..1000000");
  if (o.scheduler_threads > 256)
    invalid_options("scheduler_threads must be in 0..256");
  if (!in(o.lease_duration, millis{500}, millis{max_lease_ms}))
    invalid_options(
      fmt::format("lease_duration must be in 500..{} ms", max_lease_ms));
  if (o.lease_renew_interval.count() < 1
      || o.lease_renew_interval * 2 > o.lease_duration)
    invalid_options("lease_renew_interval must be >= 1 ms and at most half "
                    "of lease_duration");
  if (!in(o.poll_interval, millis{10}, millis{60'000}))
    invalid_options("poll_interval must be in 10..60000 ms");
  if (o.supervisor_recheck_interval < millis{10})
    invalid_options("supervisor_recheck_interval must be >= 10 ms");
  if (!in(o.max_recoveries, 0, 1000))
    invalid_options("max_recoveries must be in 0..1000");
  if (!in(o.shutdown_grace, millis{0}, millis{600'000}))
    invalid_options("shutdown_grace must be in 0..600000 ms");
  if (o.node_name.empty())
    invalid_options("node_name must not be empty");
  const auto& r = o.retention;
  for (auto d :
       {r.completed, r.failed, r.timed_out, r.finalize_failed, r.cancelled})
    if (d.count() < 0)
      invalid_options("retention durations must be >= 0");
  // 10000 is prune_request::max_limit (store.hpp, not included here).
  if (!in(r.batch_size, std::size_t{1}, std::size_t{10'000}))
    invalid_options("retention.batch_size must be in 1..10000");
  if (!in(r.sweep_interval, millis{100}, millis{3'600'000}))
    invalid_options("retention.sweep_interval must be in 100..3600000 ms");
  if (r.tasks.size() > retention_options::max_task_overrides)
    invalid_options(fmt::format("retention.tasks has {} overrides, at most {}",
                                r.tasks.size(),
                                retention_options::max_task_overrides));
  for (const auto& [task, t] : r.tasks) {
    // An invalid id stays out of the message: it may be any bytes.
    if (auto why = task_id_problem(task))
      invalid_options(fmt::format(
        "retention.tasks: a task override's id is invalid: {}", *why));
    bool any = false;
    for (const auto& d :
         {t.completed, t.failed, t.timed_out, t.finalize_failed, t.cancelled}) {
      any = any || d.has_value();
      if (d && d->count() < 0)
        invalid_options(
          fmt::format("retention.tasks[{}]: durations must be >= 0", task));
    }
    if (!any)
      invalid_options(
        fmt::format("retention.tasks[{}]: the override sets no status", task));
  }
}

} // namespace durable
