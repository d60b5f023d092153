#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/status.hpp"
#include "durable/time.hpp"

/// Listing and counting stored executions, for operators and APIs (the HTTP
/// API, durablectl); the engine never lists.
///
/// Pages are *keyset* pages, newest first: rows are ordered by
/// `(created_at, id)` descending, and a page's cursor names the last row it
/// returned, so the next page starts strictly after it. Rows inserted while
/// someone pages through never shift later pages (they sort before the
/// cursor, or after it if they are older), and no page costs more than its
/// own rows with an index on `(created_at, id)`.
namespace durable {

/// Which executions a list or count covers; every field that is set must
/// match (an empty `statuses` matches every status).
struct execution_filter {
  /// Only executions in one of these statuses; empty: any status.
  std::vector<execution_status> statuses{};
  /// Only executions of this task; unset: any task.
  std::optional<std::string> task_id{};
  /// Only children (and the finalize) of this execution.
  std::optional<std::string> parent_id{};
  /// `created_at >= created_from`.
  std::optional<timestamp> created_from{};
  /// `created_at < created_before`.
  std::optional<timestamp> created_before{};
  /// Only the executions of the tree of this root (the root included).
  /// Stores have no index by root: a listing reads the rows the other
  /// conditions select (the HTTP API adds the root's creation time as
  /// `created_from`, since no descendant is older than its root).
  std::optional<std::string> root_id{};
  /// Only the execution with this idempotency key (unique index).
  std::optional<std::string> idempotency_key{};
  /// Only the execution with this sleeping id (unique index).
  std::optional<std::string> sleeping_id{};
  /// Only executions with an error whose message contains this text
  /// (byte for byte, case-sensitive). No index: it reads the rows the other
  /// conditions select.
  std::optional<std::string> error_contains{};
};

/// True if `r` passes every condition of `f` (stores without SQL use it).
bool matches(const execution_filter& f, const execution_record& r);

/// One page of a listing.
struct list_request {
  /// The largest page a store returns; larger limits are refused.
  static constexpr std::size_t max_limit = 1000;

  /// Which executions are listed.
  execution_filter filter{};
  /// Rows per page, 1..max_limit.
  std::size_t limit = 50;
  /// Empty for the first page, else the `next_cursor` of the previous one
  /// (opaque to callers; see encode_cursor()), listed in the same order.
  std::string cursor{};
  /// Oldest first (`created_at`, then `id`, ascending) instead of newest
  /// first.
  bool oldest_first = false;
};

/// What list() returns.
struct list_page {
  /// In the request's order: newest first (`created_at` descending, then
  /// `id` descending), or oldest first.
  std::vector<execution_record> rows;
  /// The cursor of the next page; empty when this page is the last.
  std::string next_cursor;
};

/// A position in a listing: the `(created_at, id)` of the last row seen.
struct list_position {
  /// The last row's execution_record::created_at.
  timestamp created_at{};
  /// The last row's execution id, which breaks ties of created_at.
  std::string id;
};

/// The cursor that makes the next page start after `p`.
std::string encode_cursor(const list_position& p);

/// The position a cursor names.
/// @throws durable::error (non-retryable, "Invalid cursor: …") for anything
///         encode_cursor() did not produce.
list_position decode_cursor(std::string_view cursor);

/// Checks `req` before a store runs it: limit in range, a decodable cursor.
/// Returns the cursor's position (nullopt for the first page).
/// @throws durable::error (non-retryable) naming what is wrong.
std::optional<list_position> validate(const list_request& req);

/// True if the row at `(created_at, id)` sorts after `p` in a listing:
/// newest first, strictly older, or as old with a smaller id; oldest
/// first, the other way round.
bool is_after(const list_position& p, timestamp created_at, std::string_view id,
              bool oldest_first = false);

/// Executions per status; statuses without executions are absent.
using status_counts = std::map<execution_status, std::uint64_t>;

} // namespace durable
