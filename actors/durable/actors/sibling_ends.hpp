#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "durable/store.hpp"

namespace durable::actors {

/// Which parents' children are about to end on this node: the storage
/// actor's reason to hold a small batch open a little longer.
///
/// **Why.** A parent whose children this node stored claimed by itself
/// (dispatcher, local claims) sees them start together and, when their
/// bodies are short, end within tens of microseconds of each other. The
/// first end to reach an idle storage actor is committed at once and the
/// others queue behind that commit: the parent then waits for two commits
/// instead of one. Knowing that siblings of a child whose end is in the
/// batch are still running here lets the actor wait for them first.
///
/// **What is counted.** A transition that stores at least two children
/// claimed by `owner` (running, leased to it) opens an entry for its
/// parent with that count; each applied transition that finishes one of
/// them counts down, and the parent's own end closes the entry. Children
/// that retry, are taken over or run long simply never count down: an
/// entry is only a hint, trusted for `fresh_for` after it was opened and
/// dropped when older.
///
/// Threading: none; owned by one storage actor. Bounded: at most
/// `max_entries` parents are tracked, newer ones are not while it is full
/// of fresh entries.
class sibling_ends {
public:
  static constexpr std::size_t max_entries = 4096;
  /// How long after its children were stored an entry still says more
  /// ends are coming (steady nanoseconds).
  static constexpr std::int64_t fresh_for = 20'000'000;

  explicit sibling_ends(std::string owner) : owner_(std::move(owner)) {}

  /// What `batch` will change once applied, read before the batch is moved
  /// into the store; apply() takes it with the outcomes.
  struct pending {
    /// (index in the batch, parent id, children claimed by the owner)
    struct opened {
      std::size_t index;
      std::string parent_id;
      int children;
    };
    std::vector<opened> opens;
    /// (index in the batch, parent id) of children's and parents' ends
    std::vector<std::pair<std::size_t, std::string>> child_ends;
    std::vector<std::pair<std::size_t, std::string>> parent_ends;
  };
  pending read(const std::vector<transition>& batch) const;

  /// Applies what `p` recorded for every transition whose outcome is
  /// `applied`, at steady time `now`.
  void apply(const pending& p, const std::vector<write_outcome>& outcomes,
             std::int64_t now);

  /// True if `batch` holds the end of a child whose parent still expects
  /// more ends here than the batch holds (a fresh entry at `now`).
  bool awaits_more(const std::vector<transition>& batch,
                   std::int64_t now) const;

  std::size_t size() const noexcept {
    return entries_.size();
  }

private:
  struct entry {
    int expected;
    std::int64_t opened_at;
  };

  /// Drops entries older than fresh_for; returns whether there is room.
  bool make_room(std::int64_t now);

  std::string owner_;
  std::unordered_map<std::string, entry> entries_;
};

} // namespace durable::actors
