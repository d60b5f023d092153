#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <caf/actor.hpp>

namespace durable::actors {

/// The storage actors that commit transitions ("lanes"), and which of them
/// is committing right now.
///
/// A storage actor group-commits what arrives while its batch is open and
/// holds every later write until that commit returned. Where a commit
/// mostly waits (PostgreSQL: the round trip, the statement, the WAL
/// flush; store::concurrent_write_batches() says how many are worth
/// running at once), a write that arrives meanwhile need not wait for it:
/// a second lane commits it at the same time, and the server may flush
/// both commits' WAL in one go. The children of a parent that end
/// together are the usual case: the first child's commit no longer
/// delays the others' by a whole commit.
///
/// pick() chooses an idle lane, else the lane that has been committing
/// longest: its batch ends first, and its mailbox gathers the next one.
///
/// Writes of one row never race across lanes: an execution sends its next
/// write only after the reply to its last, and every write keeps its
/// version guard (a stale one is a conflict, as between nodes).
///
/// **Threading.** open() and the handles are set before any actor runs
/// and only read afterwards; pick() may be called from any thread; begin()
/// and end() of lane i only from lane i's own actor.
class write_lanes {
public:
  /// Makes `count` (>= 1) lanes without actors.
  void open(std::size_t count);

  std::size_t size() const noexcept { return count_; }

  /// Lane i's actor, set by the engine at start.
  caf::actor& operator[](std::size_t i) noexcept { return lanes_[i].actor; }

  /// The lane a write should go to (see above).
  const caf::actor& pick() const noexcept;

  /// Lane i starts committing a batch / is done with it.
  void begin(std::size_t i) noexcept;
  void end(std::size_t i) noexcept;

private:
  struct lane {
    caf::actor actor;
    /// 0 while idle; else when it began, in `next_` order.
    std::atomic<std::uint64_t> busy_since{0};
  };

  std::unique_ptr<lane[]> lanes_;
  std::size_t count_ = 0;
  std::atomic<std::uint64_t> next_{1};
};

} // namespace durable::actors
