#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "durable/actors/blocking_capacity.hpp"

/// The dispatcher's bookkeeping that needs no actor: its concurrency slots
/// (slot_ledger), which of its tasks may block (task_kinds) and what its
/// next claim asks for (claim_rounds). The claim loop (claim_loop.hpp)
/// drives them; kept apart so that the arithmetic is tested alone
/// (tests/unit/claim_slots_test.cpp) instead of through an actor system.
///
/// Threading: none; each object is owned by the dispatcher and called
/// from its actor only. Errors: none; a slot freed that none held is an
/// engine bug, caught by DURABLE_ASSERT in checked builds and saturated at
/// zero otherwise.
namespace durable::actors {

class task_registry;

/// The node's concurrency slots (executor_options::max_concurrent) and,
/// within them, its blocking capacity (blocking_capacity.hpp).
///
/// A slot is taken by one of: a running body (hold() .. release()), a row
/// taken on insert whose write has not answered (reserve() .. unreserve()),
/// or the claim in flight, for up to its limit (begin_claim() ..
/// end_claim()). free() is what none of them uses, so that no claim or
/// take can overshoot max_concurrent.
class slot_ledger {
public:
  slot_ledger(std::size_t max_concurrent,
              std::size_t blocking_capacity) noexcept
    : max_(max_concurrent), blocking_(blocking_capacity) {}

  /// Slots a claim or a take may still fill.
  std::size_t free() const noexcept {
    return max_ - std::min(max_, running_ + reserved_ + claim_limit_);
  }

  /// Bodies that hold a slot (engine_stats::running_bodies).
  std::size_t running() const noexcept {
    return running_;
  }

  /// No body runs and no taken row waits for its write: what a drain
  /// waits for (with no claim in flight).
  bool idle() const noexcept {
    return running_ == 0 && reserved_ == 0;
  }

  // -- the claim in flight ----------------------------------------------------

  /// A claim for up to `limit` rows is on its way; `blocking`: of blocking
  /// tasks, so it takes blocking room too.
  void begin_claim(std::size_t limit, bool blocking) noexcept {
    claim_limit_ = limit;
    blocking_.claiming(blocking ? limit : 0);
  }

  /// The claim returned (its rows then hold() their slots) or failed.
  void end_claim() noexcept {
    claim_limit_ = 0;
    blocking_.claiming(0);
  }

  // -- running bodies ---------------------------------------------------------

  /// A body holds a slot; `blocking`: one of a blocking task.
  void hold(bool blocking) noexcept {
    ++running_;
    if (blocking)
      blocking_.hold();
  }

  /// A body's slot is free (`blocking` as it was held).
  void release(bool blocking) noexcept {
    DURABLE_ASSERT(running_ > 0, "a slot freed that no body held");
    if (running_ > 0)
      --running_;
    if (blocking)
      blocking_.release();
  }

  // -- rows taken on insert ---------------------------------------------------

  /// `n` new rows taken locally, `blocking` of them of blocking tasks,
  /// wait for their write.
  void reserve(std::size_t n, std::size_t blocking) noexcept {
    reserved_ += n;
    blocking_.reserve(blocking);
  }

  /// Their write answered (stored ones then hold() their slots).
  void unreserve(std::size_t n, std::size_t blocking) noexcept {
    DURABLE_ASSERT(n <= reserved_, "more rows unreserved than taken");
    reserved_ -= std::min(reserved_, n);
    blocking_.unreserve(blocking);
  }

  // -- blocking capacity ------------------------------------------------------

  /// Blocking rows a claim may still ask for.
  std::size_t blocking_room() const noexcept {
    return blocking_.room();
  }

  /// Blocking rows new rows may still be taken for (the claim in flight
  /// does not count, see blocking_capacity::room_for_take()).
  std::size_t blocking_room_for_take() const noexcept {
    return blocking_.room_for_take();
  }

  std::size_t blocking_held() const noexcept {
    return blocking_.held();
  }

private:
  std::size_t max_;
  std::size_t running_ = 0;
  std::size_t reserved_ = 0;
  std::size_t claim_limit_ = 0;
  blocking_capacity blocking_;
};

/// The tasks a node runs, split by whether their bodies may block: only
/// tasks and parent tasks with task_options::may_block have bodies on
/// worker threads (sequences and loops never need one). Cached per
/// task_registry::generation().
class task_kinds {
public:
  /// Reads the registry again if tasks were added since the last call.
  void refresh(const task_registry& tasks);

  /// Every task of the node (the claim filter).
  const std::vector<std::string>& all() const noexcept {
    return all_;
  }

  const std::vector<std::string>& blocking() const noexcept {
    return blocking_list_;
  }

  /// The tasks whose bodies never block (claimed alone while there is no
  /// blocking room).
  const std::vector<std::string>& inline_tasks() const noexcept {
    return inline_;
  }

  bool is_blocking(const std::string& task_id) const {
    return blocking_set_.contains(task_id);
  }

  bool runs(const std::string& task_id) const;

private:
  std::uint64_t generation_ = ~std::uint64_t{0};
  std::vector<std::string> all_;
  std::unordered_set<std::string> blocking_set_;
  std::vector<std::string> blocking_list_;
  std::vector<std::string> inline_;
};

/// What the next claim asks for.
///
/// A node with tasks of both kinds claims them apart, blocking ones within
/// the blocking room, inline ones within the slots alone, so that the
/// blocking room never bounds a claim of inline work: every claim round is
/// two claims, each kind's turn to go first alternating. Without blocking
/// room a round claims inline work only; a node of blocking tasks only
/// claims nothing then.
class claim_rounds {
public:
  struct plan {
    /// False: nothing to claim now (no blocking room for a node whose
    /// next claim would be of blocking tasks only).
    bool claim = false;
    /// The tasks to claim, `limit` rows at most.
    const std::vector<std::string>* task_ids = nullptr;
    std::size_t limit = 0;
    /// A claim of blocking tasks (it takes blocking room while in flight).
    bool blocking = false;
    /// The first claim of a round (a round's second claim keeps what the
    /// first found of work left behind).
    bool round_start = false;
    /// Blocking work may wait for want of blocking room: claim again when
    /// a blocking slot frees.
    bool blocking_waits = false;
  };

  /// Plans one claim for `kinds` (not empty) with `free` slots (> 0),
  /// `batch` rows per claim and `room` blocking rows to spare. Moves the
  /// round on.
  plan next(const task_kinds& kinds, std::size_t free, std::size_t batch,
            std::size_t room);

  /// The second claim of the round is due (claim again when this one
  /// returns).
  bool second_kind_due() const noexcept {
    return second_kind_due_;
  }

private:
  bool second_kind_due_ = false;
  /// Which kind the next round starts with.
  bool blocking_first_ = false;
};

} // namespace durable::actors
