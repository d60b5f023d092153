#include "durable/listener_set.hpp"

namespace durable {

std::uint64_t listener_set::subscribe(store_listener listener) {
  std::lock_guard guard{mutex_};
  auto token = next_token_++;
  listeners_.emplace_back(token, std::move(listener));
  count_.store(listeners_.size());
  return token;
}

void listener_set::unsubscribe(std::uint64_t token) {
  // Taking the mutex waits for a notification in progress.
  std::lock_guard guard{mutex_};
  std::erase_if(listeners_,
                [token](const auto& x) { return x.first == token; });
  count_.store(listeners_.size());
}

void listener_set::notify(std::vector<store_event>&& events) {
  if (events.empty() || empty())
    return;
  std::lock_guard guard{mutex_};
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    // The commit stands whatever a listener does.
    try {
      if (i + 1 == listeners_.size())
        listeners_[i].second(std::move(events));
      else
        listeners_[i].second(events);
    } catch (...) {
    }
  }
}

} // namespace durable
