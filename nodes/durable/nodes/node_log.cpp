#include "durable/nodes/node_log.hpp"

#include <fmt/chrono.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "durable/trace_context.hpp"

namespace durable::nodes {

namespace {

spdlog::level::level_enum spdlog_level(log_level l) noexcept {
  switch (l) {
    case log_level::trace:
      return spdlog::level::trace;
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warning:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

/// RFC 3339 in UTC with milliseconds: `2026-11-26T10:00:00.123Z`.
std::string rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  // fmt 9 prints no fraction of a second for a time point: added by hand.
  const auto ms = floor<milliseconds>(t);
  const auto s = floor<seconds>(ms);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", s, (ms - s).count());
}

std::shared_ptr<spdlog::logger>
make_logger(const log_options& opts,
            std::shared_ptr<spdlog::sinks::sink> sink) {
  // Not registered with spdlog's registry: several node_logs (a node's and
  // the one of a failed start) may live at once under the same name.
  auto logger = std::make_shared<spdlog::logger>("durable-node",
                                                 std::move(sink));
  // The lines are laid out by format_text_line and format_json_line, time
  // and level included: spdlog adds nothing but the newline.
  logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
    "%v", spdlog::pattern_time_type::utc));
  logger->set_level(spdlog_level(opts.level));
  // One flush per line, as before: a node killed with SIGKILL leaves every
  // line it wrote.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

} // namespace

std::string_view to_string(log_level l) noexcept {
  switch (l) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "error";
}

std::string_view to_string(log_format f) noexcept {
  return f == log_format::json ? "json" : "text";
}

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  for (auto l : {log_level::trace, log_level::debug, log_level::info,
                 log_level::warning, log_level::error})
    if (text == to_string(l))
      return l;
  if (text == "warn")
    return log_level::warning;
  return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view text) noexcept {
  if (text == "text")
    return log_format::text;
  if (text == "json")
    return log_format::json;
  return std::nullopt;
}

log_level level_of(engine_event::severity s) noexcept {
  switch (s) {
    case engine_event::severity::info:
      return log_level::info;
    case engine_event::severity::warning:
      return log_level::warning;
    case engine_event::severity::error:
      return log_level::error;
  }
  return log_level::error;
}

std::string format_json_line(const log_record& r) {
  nlohmann::ordered_json j;
  j["time"] = rfc3339(r.time);
  j["level"] = to_string(r.level);
  j["node"] = r.node;
  j["incarnation"] = r.incarnation;
  j["event"] = r.event;
  j["message"] = r.message;
  auto optional = [&j](const char* key, std::string_view value) {
    if (!value.empty())
      j[key] = value;
  };
  optional("execution_id", r.execution_id);
  optional("task_id", r.task_id);
  optional("traceparent", r.traceparent);
  optional("trace_id", trace_context::trace_id_of(r.traceparent));
  optional("operation", r.operation);
  optional("failure", r.failure);
  // A store's error text may carry bytes that are not UTF-8: replaced
  // rather than thrown on, so that the line is written.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_text_line(const log_record& r) {
  auto line = fmt::format("{} {} node={} incarnation={} {}", rfc3339(r.time),
                          to_string(r.level), r.node, r.incarnation, r.event);
  if (!r.operation.empty())
    line += fmt::format(" operation={}", r.operation);
  if (!r.failure.empty())
    line += fmt::format(" failure=\"{}\"", r.failure);
  if (!r.execution_id.empty())
    line += fmt::format(" execution={}", r.execution_id);
  if (!r.task_id.empty())
    line += fmt::format(" task={}", r.task_id);
  if (!r.traceparent.empty())
    line += fmt::format(" traceparent={}", r.traceparent);
  if (!r.message.empty()) {
    line += ' ';
    for (char c : r.message) {
      if (c == '\n')
        line += "\\n";
      else if (c != '\r')
        line += c;
    }
  }
  return line;
}

node_log::node_log(std::string node, std::string incarnation, log_options opts)
  : node_log(std::move(node), std::move(incarnation), opts,
             std::make_shared<spdlog::sinks::stderr_sink_mt>()) {}

node_log::node_log(std::string node, std::string incarnation, log_options opts,
                   std::shared_ptr<spdlog::sinks::sink> sink)
  : node_(std::move(node)),
    opts_(opts),
    logger_(make_logger(opts, std::move(sink))),
    incarnation_(std::move(incarnation)) {}

node_log::~node_log() = default;

void node_log::set_incarnation(std::string incarnation) {
  std::lock_guard guard{mutex_};
  incarnation_ = std::move(incarnation);
}

void node_log::event(const engine_event& e) const {
  const auto level = level_of(e.level);
  if (!enabled(level))
    return;
  const auto failure = e.failure ? to_string(*e.failure) : std::string_view{};
  log_record r{.level = level,
               .event = to_string(e.kind),
               .message = e.message,
               .execution_id = e.execution_id,
               .task_id = e.task_id,
               .traceparent = e.traceparent,
               .operation = e.operation,
               .failure = failure};
  write(r);
}

void node_log::write(log_level l, std::string_view event,
                     std::string_view message) const {
  log_record r{.level = l, .event = event, .message = message};
  write(r);
}

void node_log::write(log_record& r) const {
  std::string incarnation;
  {
    std::lock_guard guard{mutex_};
    incarnation = incarnation_;
  }
  r.time = std::chrono::system_clock::now();
  r.node = node_;
  r.incarnation = incarnation;
  auto line = opts_.format == log_format::json ? format_json_line(r)
                                               : format_text_line(r);
  try {
    logger_->log(spdlog_level(r.level), fmt::string_view{line});
  } catch (...) {
    // spdlog reports its own errors to stderr; a log line is never worth
    // an engine thread.
  }
}

} // namespace durable::nodes
