#pragma once

#include <optional>
#include <string>
#include <string_view>

/// # W3C trace context, carried through a tree of executions
///
/// An execution may carry a `traceparent` (W3C Trace Context, level 1:
/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`), given at
/// enqueue (enqueue_options::traceparent, or the HTTP `traceparent`
/// header). The engine stores it with the row and copies it unchanged to
/// every child, step, iteration and finalize execution of the tree, so the
/// whole tree belongs to the trace and to the span of the request that
/// enqueued it. It creates no spans of its own (no tracing SDK here): a
/// body reads it from task_context::traceparent to start its own span,
/// remote-procedure tasks forward it as a `traceparent` header, and the
/// node's JSON logs name it on every record about the execution.
///
/// `tracestate` is not carried: vendors' state belongs to the spans a
/// tracing SDK creates, and none is created here.
///
/// **Threading.** Pure functions: safe from any thread.
namespace durable::trace_context {

/// The length of a version-00 traceparent, which is also what is stored of
/// a later version's (its first four fields; W3C §3.2.4).
inline constexpr std::size_t traceparent_length = 55;

/// The longest header accepted: a later version may append fields, but a
/// header longer than this is refused rather than parsed.
inline constexpr std::size_t max_traceparent_header = 512;

/// Why `text` is not a valid traceparent, or nullopt if it is one: the
/// version is two lowercase hex digits other than `ff`; the trace id 32 and
/// the parent id 16 lowercase hex digits, not all zero; the flags two hex
/// digits; version 00 has exactly these four fields, a later version may
/// append more after a `-`.
std::optional<std::string> traceparent_problem(std::string_view text);

/// The form stored and propagated: `text` itself for version 00, the first
/// four fields of a later version. `text` must be valid
/// (traceparent_problem() is nullopt).
std::string stored_traceparent(std::string_view text);

/// The trace id of a valid traceparent (its second field).
std::string_view trace_id_of(std::string_view traceparent) noexcept;

} // namespace durable::trace_context
