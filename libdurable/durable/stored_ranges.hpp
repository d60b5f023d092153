#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/store.hpp"

/// The ranges of the numbers a row may hold, checked here for every store.
///
/// Stores and the engine compute with the numbers of stored rows: a claim
/// stores `now + timeout`, a take-over adds a recovery, every write adds one
/// to the version, and the engine turns times into timers in nanoseconds.
/// A number out of range made such a computation overflow: on PostgreSQL
/// one row with a huge timeout failed every claim that met it, on every
/// node ("bigint out of range"). So:
/// - no store writes a number outside these ranges: insert refuses the
///   row alone (refused_insert()), apply the transition alone
///   (write_status::refused with refused_write());
/// - a row found holding one anyway (written behind the store's back) is
///   failed with invalid_message() instead of run, as an undecodable row
///   is (store_event::type::corrupt). Only unfinished rows are checked
///   when read: nothing is computed from a finished row's numbers, and a
///   row failed for them keeps them as evidence;
/// - the PostgreSQL claim bounds its own arithmetic, so that it cannot
///   fail for any row before that check sees it.
///
/// The ranges of options are validate()'s (option_limits in options.hpp);
/// the others leave room for what is computed from them.
///
/// **Threading.** Pure functions and constants: safe from any thread.
namespace durable::stored_ranges {

/// An inclusive range of a stored integer.
struct range {
  /// The smallest value allowed.
  std::int64_t min;
  /// The largest value allowed.
  std::int64_t max;
};

/// execution_record::timeout, in ms: 1 ms to one year.
inline constexpr range timeout_ms{1, option_limits::max_timeout_ms};
/// execution_record::sleep_before_run, in ms: 0 to one year.
inline constexpr range sleep_before_run_ms{
  0, option_limits::max_sleep_before_run_ms};
/// retry_options::max_attempts.
inline constexpr range retry_max_attempts{0, option_limits::max_retry_attempts};
/// retry_options::base_delay, in ms: 0 to one hour.
inline constexpr range retry_base_delay_ms{0, option_limits::max_base_delay_ms};
/// retry_options::max_delay, in ms: 0 to 24 hours.
inline constexpr range retry_max_delay_ms{0, option_limits::max_max_delay_ms};
/// retry_options::jitter, as its number (jitter_mode).
inline constexpr range retry_jitter{0, static_cast<int>(jitter_mode::equal)};
/// execution_record::kind, as its number (task_kind).
inline constexpr range kind{0, static_cast<int>(task_kind::sleeping)};

/// Earlier retries: a retry is taken only while `attempt < max_attempts`
/// (transitions::fail_run), so never more than retry_max_attempts.
inline constexpr range attempt{0, option_limits::max_retry_attempts};

/// Far above any max_recoveries (at most 1000), with room for the one a
/// claim adds in a 32-bit integer (PostgreSQL's `integer` column).
inline constexpr range recoveries{0,
                                  std::numeric_limits<std::int32_t>::max() - 1};

/// Every write adds one. 2^53 - 1 is still exact in any JSON reader (rows
/// are shown as JSON), and a million writes a second take 285 years to
/// reach it.
inline constexpr range version{0, (std::int64_t{1} << 53) - 1};

/// Times, in microseconds since the epoch: 1970-01-01 to
/// 2262-04-11T23:47:16.854775Z, the span of a 64-bit nanosecond clock
/// (std::chrono::system_clock here, CAF's timers), which the engine turns
/// the wait for a stored time into. A time plus any duration an option
/// allows, and the difference of any two times, stay far inside 64 bits.
inline constexpr range time_us{0,
                               std::numeric_limits<std::int64_t>::max() / 1000};

/// A sequence's step, a loop's iteration, a child's index (32 bits in
/// execution_record); for decoders of wider columns.
inline constexpr range index{0, std::numeric_limits<std::uint32_t>::max()};

/// "<field> <value> is out of range (<min>..<max>)", or nullopt if `value`
/// is in `r`. Decoders check a column with it before narrowing it into
/// execution_record, which could not hold the value to check later.
std::optional<std::string> check(std::string_view field, std::int64_t value,
                                 range r);

/// The first number of `r` out of its range, named by its column (as
/// check() words it), or nullopt if every one is in range.
std::optional<std::string> problem(const execution_record& r);

/// The same for the rows `t` writes: `next` (whose version the store sets
/// to `expected_version + 1`, which must stay in range) and each child
/// ("child <id>: <problem>").
std::optional<std::string> problem(const transition& t);

/// Why a store refuses to write a row: "Execution cannot be stored:
/// <problem>" (insert_outcome::reason, write_outcome::reason).
std::string refused_message(std::string_view problem);

/// The outcome of inserting `r` if a number of it is out of range:
/// `refused`, with refused_message(); nullopt if `r` may be stored.
std::optional<insert_outcome> refused_insert(const execution_record& r);

/// Why `t` must be refused (refused_message()), or nullopt if it may be
/// written.
std::optional<std::string> refused_write(const transition& t);

/// The error an unfinished stored row found out of range ends `failed`
/// with: "Stored execution is invalid: <problem>".
std::string invalid_message(std::string_view problem);

} // namespace durable::stored_ranges
