#include "durable/nodes/http/remote_task.hpp"

#include <stop_token>

#include <fmt/format.h>
#include <httplib.h>

#include "durable/actors/executor.hpp"
#include "durable/task_definition.hpp"

namespace durable::nodes::http {

namespace {

constexpr std::size_t max_excerpt = 200;

std::string excerpt_of(std::string_view body) {
  std::string out{body.substr(0, max_excerpt)};
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  return out;
}

template <class Duration>
std::pair<time_t, time_t> sec_usec(Duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(us / 1'000'000),
          static_cast<time_t>(us % 1'000'000)};
}

/// One call of the endpoint for one run of the task.
std::string call(const remote_task_options& opts, const split_url& where,
                 task_context& ctx, const std::string& input) {
  if (ctx.stop_requested())
    throw durable::error::cancelled();
  httplib::Client client{where.origin};
  auto [cs, cu] = sec_usec(opts.connect_timeout);
  client.set_connection_timeout(cs, cu);
  auto [is, iu] = sec_usec(opts.io_timeout);
  client.set_read_timeout(is, iu);
  client.set_write_timeout(is, iu);
  // httplib writes a request's head and body apart: without it, the body
  // waits for the app's delayed ACK (about 40 ms).
  client.set_tcp_nodelay(true);
  httplib::Headers headers;
  for (const auto& [k, v] : opts.headers)
    headers.emplace(k, v);
  headers.emplace("X-Durable-Task-Id", ctx.task_id);
  headers.emplace("X-Durable-Execution-Id", ctx.execution_id);
  headers.emplace("X-Durable-Attempt", std::to_string(ctx.attempt));
  headers.emplace("Idempotency-Key",
                  fmt::format("{}:{}", ctx.execution_id, ctx.attempt));
  if (ctx.traceparent)
    headers.emplace("traceparent", *ctx.traceparent);
  headers.emplace("Accept", "application/json");
  // Cancellation, timeout and shutdown shut the socket down, which ends a
  // blocked connect, write or read at once.
  auto stop = [&client] { client.stop(); };
  std::stop_callback on_cancel{ctx.cancel_token, stop};
  std::stop_callback on_shutdown{ctx.shutdown_token, stop};
  auto res = client.Post(where.target, headers, input, "application/json");
  if (ctx.stop_requested())
    throw durable::error::cancelled();
  if (!res)
    throw durable::error::retryable(
      fmt::format("Remote procedure call failed [taskId={}]: {}", ctx.task_id,
                  httplib::to_string(res.error())));
  if (auto err = error_for_status(res->status, ctx.task_id,
                                  excerpt_of(res->body)))
    throw *err;
  if (res->body.empty())
    return "null";
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded())
    throw durable::error::non_retryable(fmt::format(
      "Remote procedure returned a body that is not JSON [taskId={}] "
      "[status={}]",
      ctx.task_id, res->status));
  return j.dump();
}

} // namespace

split_url parse_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return durable::error::non_retryable(
      fmt::format("Invalid remote procedure URL: {}", why));
  };
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    throw bad("it must start with http:// or https://");
  auto scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw bad("it must start with http:// or https://");
  auto rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (authority.empty())
    throw bad("it has no host");
  if (authority.find('@') != std::string_view::npos)
    throw bad("credentials belong in headers, not in the URL");
  split_url out;
  out.origin = fmt::format("{}://{}", scheme, authority);
  out.target = slash == std::string_view::npos
                 ? std::string{"/"}
                 : std::string{rest.substr(slash)};
  return out;
}

std::optional<durable::error> error_for_status(int status,
                                               std::string_view task_id,
                                               std::string_view excerpt) {
  if (status >= 200 && status < 300)
    return std::nullopt;
  auto message = fmt::format("Remote procedure failed [taskId={}] "
                             "[status={}]{}{}",
                             task_id, status, excerpt.empty() ? "" : ": ",
                             excerpt);
  switch (status) {
    case 404:
      return durable::error::not_found(std::move(message));
    case 408:
    case 429:
      return durable::error::retryable(std::move(message));
    case 500:
    case 502:
    case 503:
    case 504:
      return durable::error::internal(std::move(message), true);
    default:
      if (status >= 500)
        return durable::error::internal(std::move(message), false);
      return durable::error::non_retryable(std::move(message));
  }
}

task_ref<nlohmann::json, nlohmann::json> remote_task(durable::executor& exec,
                                                     remote_task_options opts) {
  auto where = parse_url(opts.url);
  task_definition def;
  def.kind = task_kind::task;
  def.options = opts.task;
  def.options.may_block = true;
  def.run = [opts, where](task_context& ctx, const std::string& input) {
    return call(opts, where, ctx, input);
  };
  auto id = def.options.id;
  exec.add(std::move(def));
  return task_ref<nlohmann::json, nlohmann::json>{id};
}

} // namespace durable::nodes::http
