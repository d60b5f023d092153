#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "durable/store.hpp"

/// The listeners of one store: what `store::subscribe`, `unsubscribe` and
/// the announcement after each commit do, the same in every backend.
namespace durable {

/// A set of store listeners, each with the token subscribe() gave it.
///
/// **Threading.** Every member function is safe to call from any thread.
/// One mutex guards the set and is held while notify() runs the listeners,
/// so notifications are serialized, unsubscribe() waits for one in
/// progress, and a listener is never called after its unsubscribe()
/// returned. A listener must therefore not call subscribe() or
/// unsubscribe() on the set that runs it: the mutex is not recursive, and
/// the call deadlocks. empty() and size() take no lock.
///
/// **Errors.** subscribe() throws only what allocating its entry throws.
/// notify() swallows whatever a listener throws: the commit it announces
/// stands, and an exception escaping would tell the store's caller that
/// nothing was written. The other listeners are still called.
class listener_set {
public:
  /// Adds `listener`; returns the token for unsubscribe(), never 0 and
  /// never handed out twice by this set.
  std::uint64_t subscribe(store_listener listener);

  /// Removes the listener of `token` (nothing if it is unknown or gone),
  /// after a notification in progress has finished.
  void unsubscribe(std::uint64_t token);

  /// Calls every listener once with `events`, in the order they
  /// subscribed; the last one gets `events` moved, the others a copy.
  /// Nothing happens for no events or no listeners.
  void notify(std::vector<store_event>&& events);

  /// Whether no listener is subscribed: lets a store skip building events
  /// nobody hears. A subscribe() racing with it may or may not be seen.
  bool empty() const noexcept {
    return count_.load() == 0;
  }

  /// How many listeners are subscribed (for tests and metrics); like
  /// empty(), it may miss a racing subscribe() or unsubscribe().
  std::size_t size() const noexcept {
    return count_.load();
  }

private:
  std::mutex mutex_;
  std::vector<std::pair<std::uint64_t, store_listener>> listeners_;
  std::uint64_t next_token_ = 1;
  std::atomic<std::size_t> count_{0};
};

} // namespace durable
