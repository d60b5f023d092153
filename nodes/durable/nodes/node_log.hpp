#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "durable/observer.hpp"

namespace spdlog {
class logger;
namespace sinks {
class sink;
} // namespace sinks
} // namespace spdlog

namespace durable::nodes {

/// How severe a record is; records below log_options::level are not
/// written. Ordered: `trace` < `debug` < `info` < `warning` < `error`.
enum class log_level { trace, debug, info, warning, error };

/// How records are laid out on stderr (see node_log).
enum class log_format { text, json };

/// The level's name as parse_log_level() reads it and the records show it
/// (`trace`, …, `warning`, `error`).
std::string_view to_string(log_level l) noexcept;
/// The format's name as parse_log_format() reads it: `text` or `json`.
std::string_view to_string(log_format f) noexcept;

/// `trace`, `debug`, `info`, `warning` (or `warn`), `error`; nullopt else.
std::optional<log_level> parse_log_level(std::string_view text) noexcept;

/// `text` or `json`; nullopt else.
std::optional<log_format> parse_log_format(std::string_view text) noexcept;

/// How a node logs (node_config::log).
struct log_options {
  /// Records below it are not written (`--log-level`).
  log_level level = log_level::info;
  /// Text lines or JSON objects (`--log-format`).
  log_format format = log_format::text;
};

/// One record, as the formatters below lay it out. Empty fields are left
/// out of JSON lines.
///
/// The fields are views: the record does not own its text, and is meant to
/// be formatted while the viewed strings live.
struct log_record {
  /// When it was written (set by node_log); RFC 3339, UTC, milliseconds.
  std::chrono::system_clock::time_point time{};
  /// Its severity.
  log_level level = log_level::info;
  /// The node's name (`node_config::name`).
  std::string_view node{};
  /// The engine's incarnation, `-` before it is known.
  std::string_view incarnation{};
  /// The event's type name: an engine event's (`renewal_failed`) or the
  /// node's own (`started`, `draining`, `stopped`, …).
  std::string_view event{};
  /// Free text; newlines are escaped as `\n` in text lines.
  std::string_view message{};
  /// The execution the record is about (`execution=` in text lines).
  std::string_view execution_id{};
  /// That execution's task (`task=` in text lines).
  std::string_view task_id{};
  /// The execution's W3C `traceparent`; JSON lines add its `trace_id`.
  std::string_view traceparent{};
  /// The store call concerned (`apply`, `renew_leases`, …).
  std::string_view operation{};
  /// How that call failed (a store_failure's name: `unavailable`, …).
  std::string_view failure{};
};

/// The record as one JSON object, without the newline.
std::string format_json_line(const log_record& r);

/// The record as one text line, without the newline (newlines in the
/// message are written as `\n`, so that a record stays one line).
std::string format_text_line(const log_record& r);

/// An engine event's severity as a log level.
log_level level_of(engine_event::severity s) noexcept;

/// The logs of a node process, on stderr, written through spdlog.
///
/// Two formats (`--log-format`):
///
/// - `text`, one line per record:
///   `2026-11-26T10:00:00.123Z info node=a incarnation=de_… started …`;
///   engine events as `… warning node=a incarnation=de_… renewal_failed
///   operation=renew_leases failure="unavailable" execution=te_… lease
///   renewal failed (1 in a row): …` (tests/chaos counts the events by
///   their type name between spaces).
/// - `json`, one object per line: `time` (RFC 3339, UTC, milliseconds),
///   `level`, `node`, `incarnation`, `event` (the engine event's type name,
///   or the node's own: `started`, `draining`, `stopped`, …), `message`, and
///   `execution_id`, `task_id`, `traceparent` with its `trace_id` (W3C trace
///   context, so that a log store joins the record to the trace),
///   `operation`, `failure` when the record has them.
///
/// Every record names the node and its incarnation, so that the records of
/// a restarted node are told apart from its predecessor's (`-` before the
/// engine has drawn it: a store that cannot be opened, an event of the
/// engine's start). Records below the
/// level (`--log-level`, default info) are not written.
///
/// Threading: safe from any thread (one write per line). Errors: writing
/// never throws; text that is not UTF-8 is written with U+FFFD in JSON.
/// Never logs secrets: callers pass redacted URLs.
class node_log {
public:
  /// Writes to stderr.
  node_log(std::string node, std::string incarnation, log_options opts = {});

  /// Writes to `sink` (tests).
  node_log(std::string node, std::string incarnation, log_options opts,
           std::shared_ptr<spdlog::sinks::sink> sink);

  /// Nothing is left to flush: every line is flushed as it is written.
  ~node_log();

  node_log(const node_log&) = delete;
  node_log& operator=(const node_log&) = delete;

  /// May be called while other threads log (the engine starts before the
  /// incarnation is known to the caller).
  void set_incarnation(std::string incarnation);

  /// Whether records at `l` are written.
  bool enabled(log_level l) const noexcept {
    return l >= opts_.level;
  }

  /// A record of the node itself: `event` is a short name (`started`), the
  /// message the rest (`store="memory" max_concurrent=…`).
  template <class... Ts>
  void log(log_level l, std::string_view event, fmt::format_string<Ts...> f,
           Ts&&... xs) const {
    if (enabled(l))
      write(l, event, fmt::format(f, std::forward<Ts>(xs)...));
  }

  /// log() at `debug`.
  template <class... Ts>
  void
  debug(std::string_view event, fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(log_level::debug, event, f, std::forward<Ts>(xs)...);
  }

  /// log() at `info`.
  template <class... Ts>
  void
  info(std::string_view event, fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(log_level::info, event, f, std::forward<Ts>(xs)...);
  }

  /// log() at `warning`.
  template <class... Ts>
  void warning(std::string_view event, fmt::format_string<Ts...> f,
               Ts&&... xs) const {
    log(log_level::warning, event, f, std::forward<Ts>(xs)...);
  }

  /// log() at `error`.
  template <class... Ts>
  void
  error(std::string_view event, fmt::format_string<Ts...> f, Ts&&... xs) const {
    log(log_level::error, event, f, std::forward<Ts>(xs)...);
  }

  /// One record for an event of the engine, at its severity.
  void event(const engine_event& e) const;

private:
  void write(log_level l, std::string_view event,
             std::string_view message) const;
  void write(log_record& r) const;

  std::string node_;
  log_options opts_;
  std::shared_ptr<spdlog::logger> logger_;
  mutable std::mutex mutex_;
  std::string incarnation_;
};

} // namespace durable::nodes
