#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "durable/options.hpp"
#include "durable/store.hpp"

/// What an executor tells its operator (executor_options::observer).
///
/// The engine survives store outages, lost leases and conflicts on its own:
/// it retries, re-reads and hands rows back. An operator still wants to see
/// them happen, in a log or as a metric; an engine_event is one such
/// moment. None of them asks for an answer.
namespace durable {

/// One moment of the engine's life worth an operator's attention: what
/// happened, how bad it is, and what it concerns. Handed to the
/// engine_observer by const reference: copy what outlives the call.
struct engine_event {
  /// What happened.
  enum class type : std::uint8_t {
    /// A store call failed. `operation` names it ("apply", "claim",
    /// "insert", …), `failure` says how; with an `execution_id`, the store
    /// refused that one execution's write alone (its data) and the
    /// execution fails with the reason.
    store_failure,
    /// The lease keeper could not renew this node's leases. Rows whose
    /// lease runs out meanwhile may be taken over by other nodes.
    renewal_failed,
    /// A renewal succeeded again after one or more failed.
    renewal_restored,
    /// This node stopped running `execution_id`: another node took it
    /// over, or its lease may have passed before its body started (the
    /// node was frozen or too busy); the row is handed back.
    lease_lost,
    /// This node became, or stopped being, the cluster's maintenance
    /// leader (the one node that expires sleepers); `message` says which.
    leadership,
    /// A write of `execution_id` lost to another writer (a cancel, a wake,
    /// a node that took the row over): the engine re-reads the row.
    conflict,
    /// A stored row could not be decoded; the store marked it failed (or,
    /// if even that failed, skips it). `message` says what was wrong.
    corrupt_row,
  };

  /// How bad it is, as a log level.
  enum class severity : std::uint8_t {
    info,    ///< news, nothing lost (a renewal restored, leadership moved)
    warning, ///< the engine copes (a transient store failure, a lost lease)
    error,   ///< something is lost or broken: a corrupt row, a store failure
             ///< that is not transient
  };

  /// What happened.
  type kind = type::store_failure;
  /// How bad it is.
  severity level = severity::warning;
  /// One line for a log, naming what happened and what the engine does.
  std::string message;
  /// The store call concerned ("apply", "renew_leases", …), or empty.
  std::string operation{};
  /// The execution concerned, or empty.
  std::string execution_id{};
  /// Its task, where the engine holds its row (empty otherwise).
  std::string task_id{};
  /// Its trace context (trace_context.hpp), where it has one and the
  /// engine holds its row.
  std::string traceparent{};
  /// How a store call failed (store_failure, renewal_failed).
  std::optional<store_failure> failure{};
  /// `leadership` only: true when this node became the maintenance leader,
  /// false when it stopped being it.
  bool leading = false;
};

/// The type's name as spelled in the enumeration: "store_failure",
/// "renewal_failed", …, "corrupt_row".
std::string_view to_string(engine_event::type t) noexcept;
/// The severity's name: "info", "warning", "error".
std::string_view to_string(engine_event::severity s) noexcept;

} // namespace durable
