#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "durable/execution_record.hpp"

/// Which new rows a node stores already claimed by itself
/// (executor_options::claim_on_insert): the decision of the local-claim
/// new-row router (new_row_router.hpp), without its actor.
///
/// Threading: none (plain functions on the caller's data). Errors: none.
namespace durable::actors {

class task_kinds;

/// New rows of this node's tasks that it may start at once, marked as
/// claimed by it (store_rules::claim) before they are stored: they are
/// inserted running with this node's lease, so no claim has to find them.
struct local_claims {
  /// Positions of the taken rows among the rows to be stored.
  std::vector<std::size_t> positions;
  /// Copies of the taken rows, as they will be stored.
  std::vector<execution_record> rows;
  /// How many of them are of blocking tasks (each reserves blocking room).
  std::size_t blocking = 0;

  bool empty() const noexcept {
    return rows.empty();
  }
};

/// The limits of one take.
struct take_limits {
  /// Rows the node may take (its slots to spare).
  std::size_t room = 0;
  /// Rows of blocking tasks among them (blocking room for takes): a
  /// blocking row is taken only while a worker thread can start it; the
  /// others are stored ready, for whichever node has a free thread.
  std::size_t blocking_room = 0;
  timestamp now{};
  /// The lease the taken rows get (this node's incarnation and lease).
  std::string owner;
  millis lease{0};
};

/// Takes up to `limits.room` of `rows` (ready, claimable at `now`, of a
/// task in `kinds`), in order, and marks them claimed in place; rows it
/// leaves are unchanged. The result is empty when it takes none.
local_claims pick_local_claims(std::vector<execution_record>& rows,
                               const task_kinds& kinds,
                               const take_limits& limits);

} // namespace durable::actors
