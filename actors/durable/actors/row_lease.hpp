#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <caf/intrusive_ptr.hpp>
#include <caf/ref_counted.hpp>

#include "durable/time.hpp"

namespace durable::actors {

/// What this node knows of the lease of one row it runs: a time (the
/// store's clock) until which the row is certainly still its own. A body
/// whose outcome is written against the row starts only while that time is
/// comfortably ahead (runtime::lease_may_have_passed): past it, another
/// node may have taken the row over and run the same body.
///
/// It starts as the lease the claim gave the row and moves only forward:
/// the dispatcher raises it to a renewal's floor (store_rules::
/// renewal_floor) for each row that renewal found still owned by this
/// node. A row the renewal did not find keeps its old time, so a node that
/// was frozen, or could not reach its store, past the lease starts no body
/// of it, however recently its other rows were renewed. Why per row: a
/// node-wide "renewed until" would be fresh again right after the first
/// renewal that follows a freeze, before the dispatcher has told the
/// actors of the rows it lost.
///
/// Threading: written by the dispatcher only, read by the execution actor
/// and the worker thread about to start its body. Counted intrusively: an
/// execution actor holds one per running execution and must stay small.
class row_lease : public caf::ref_counted {
public:
  explicit row_lease(std::optional<timestamp> claimed_until) noexcept
    : until_(claimed_until ? to_micros(*claimed_until) : 0) {}

  /// The row is this node's until at least `until`: raises, never lowers.
  void confirm(timestamp until) noexcept {
    const auto us = to_micros(until);
    if (us > until_.load(std::memory_order_relaxed))
      until_.store(us, std::memory_order_release);
  }

  timestamp confirmed_until() const noexcept {
    return from_micros(until_.load(std::memory_order_acquire));
  }

private:
  std::atomic<std::int64_t> until_;
};

using row_lease_ptr = caf::intrusive_ptr<row_lease>;

} // namespace durable::actors
