#pragma once

#include <algorithm>
#include <cstddef>

#include "durable/assert.hpp"

namespace durable::actors {

/// How many executions of blocking tasks (task_options::may_block) one
/// node may hold at once: one per worker thread, plus the
/// `max_queued_blocking` that may wait for a thread (executor_options).
///
/// The dispatcher counts them apart from its concurrency slots, so that it
/// claims, and takes on insert, no blocking execution it could not start
/// soon: with 5,000 slots and 64 threads it would otherwise hold thousands
/// of leases on rows that wait in the worker pool's queue, which another
/// node with a free thread could run at once.
///
/// A blocking execution counts from its claim (or local take) until its
/// slot is free: its body returned *and* its outcome is stored, as for
/// every slot (execution_actor.hpp). So a body that outlives its timeout
/// keeps its thread counted until it returns.
///
/// Threading: the dispatcher's state (slot_ledger, claim_slots.hpp), used
/// on its actor only.
class blocking_capacity {
public:
  explicit blocking_capacity(std::size_t capacity) noexcept
    : capacity_(capacity) {}

  /// Blocking executions a claim may still ask for.
  std::size_t room() const noexcept {
    return left(held_ + reserved_ + claiming_);
  }

  /// Blocking executions new rows may still be taken for on insert. The
  /// claim in flight does not count: it reserves room for rows it may not
  /// find (most claims of a quiet node find none), and new rows would be
  /// stored ready for want of it. So a claim and a take that overlap may
  /// overshoot by the claim's rows, at most the room the claim began with.
  std::size_t room_for_take() const noexcept {
    return left(held_ + reserved_);
  }

  /// A blocking execution holds a slot: claimed, or stored after a take.
  void hold() noexcept {
    ++held_;
  }

  /// A blocking execution's slot is free.
  void release() noexcept {
    DURABLE_ASSERT(held_ > 0, "a blocking slot freed that none held");
    if (held_ > 0)
      --held_;
  }

  /// Taken on insert, not stored yet (new_row_router.hpp).
  void reserve(std::size_t n) noexcept {
    reserved_ += n;
  }

  void unreserve(std::size_t n) noexcept {
    DURABLE_ASSERT(n <= reserved_, "more blocking rows unreserved than taken");
    reserved_ -= std::min(reserved_, n);
  }

  /// The claim in flight may return up to `n` blocking executions; 0 when
  /// it returned.
  void claiming(std::size_t n) noexcept {
    claiming_ = n;
  }

  std::size_t held() const noexcept {
    return held_;
  }

private:
  std::size_t left(std::size_t used) const noexcept {
    return capacity_ - std::min(capacity_, used);
  }

  std::size_t capacity_;
  std::size_t held_ = 0;
  std::size_t reserved_ = 0;
  std::size_t claiming_ = 0;
};

} // namespace durable::actors
