#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "durable/store.hpp"

namespace durable::actors {

/// When the storage actor commits its open batch of transitions: now, or
/// after one more short nap so that writes about to arrive join it. The
/// storage actor asks hold() before each commit and tells the policy what
/// it commits; why a batch waits is the policy's knowledge alone (the way
/// River swaps its job completers: inline, async, batch).
///
/// Threading: none; owned by one storage actor. Times are steady
/// nanoseconds.
class commit_policy {
public:
  /// How long one hold lasts before hold() is asked again.
  static constexpr auto nap = std::chrono::microseconds{25};

  virtual ~commit_policy() = default;

  /// Whether to keep `batch` open for one more nap, having held it for
  /// `held` so far, when the last commit took `last_commit`.
  virtual bool hold(const std::vector<transition>& batch, std::int64_t held,
                    std::int64_t last_commit, std::int64_t now) const = 0;

  /// `batch` is committed next (it is moved into the store afterwards).
  virtual void committing(const std::vector<transition>& batch) = 0;

  /// The batch of the last committing() call committed with `outcomes`.
  virtual void
  committed(const std::vector<write_outcome>& outcomes, std::int64_t now)
    = 0;
};

/// Commits every batch at once: for an engine whose storage actor shares
/// the scheduler's threads (a nap would block them), and for tests.
std::unique_ptr<commit_policy> commit_at_once();

/// Holds a batch that ends a child whose siblings were stored claimed by
/// `owner` and have not all ended yet (sibling_ends.hpp says why), so that
/// a fan-out's children usually end in one commit and their parent waits
/// for one instead of two. Only a batch of fewer than
/// `max_held_batch` transitions (under load batches fill while the
/// previous commit runs), for at most a quarter of the last commit's time
/// and never more than `max_hold`: a store whose commits take
/// microseconds (memory) is never held.
std::unique_ptr<commit_policy> hold_for_siblings(std::string owner);

inline constexpr std::size_t max_held_batch = 32;
inline constexpr std::int64_t max_hold = 250'000;

} // namespace durable::actors
