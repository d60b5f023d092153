#include "durable/actors/commit_policy.hpp"

#include <algorithm>

#include "durable/actors/sibling_ends.hpp"

namespace durable::actors {

namespace {

class at_once final : public commit_policy {
public:
  bool hold(const std::vector<transition>&, std::int64_t, std::int64_t,
            std::int64_t) const override {
    return false;
  }

  void committing(const std::vector<transition>&) override {
    // nop
  }

  void committed(const std::vector<write_outcome>&, std::int64_t) override {
    // nop
  }
};

class for_siblings final : public commit_policy {
public:
  explicit for_siblings(std::string owner) : ends_(std::move(owner)) {}

  bool hold(const std::vector<transition>& batch, std::int64_t held,
            std::int64_t last_commit, std::int64_t now) const override {
    if (batch.empty() || batch.size() >= max_held_batch)
      return false;
    const auto budget = std::min(max_hold, last_commit / 4);
    if (held + std::chrono::nanoseconds{nap}.count() > budget)
      return false;
    return ends_.awaits_more(batch, now);
  }

  void committing(const std::vector<transition>& batch) override {
    pending_ = ends_.read(batch);
  }

  void committed(const std::vector<write_outcome>& outcomes,
                 std::int64_t now) override {
    ends_.apply(pending_, outcomes, now);
    pending_ = {};
  }

private:
  sibling_ends ends_;
  sibling_ends::pending pending_;
};

} // namespace

std::unique_ptr<commit_policy> commit_at_once() {
  return std::make_unique<at_once>();
}

std::unique_ptr<commit_policy> hold_for_siblings(std::string owner) {
  return std::make_unique<for_siblings>(std::move(owner));
}

} // namespace durable::actors
