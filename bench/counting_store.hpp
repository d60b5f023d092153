#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "durable/forwarding_store.hpp"

namespace durable::bench {

/// A store decorator that counts the executions this process finished
/// (every applied transition whose row ends finished, and the finished rows
/// it inserts), so that the harness
/// knows when a single-node run is done without querying the store, and
/// the trees its retention removed (prune() calls that were not dry runs),
/// so that rows gone before the read back are accounted for.
/// Latencies come from the rows read back after the run (readback.hpp).
/// Thread-safe: the counts are atomic, every call goes to the inner store.
class counting_store final : public durable::forwarding_store {
public:
  explicit counting_store(std::shared_ptr<durable::store> inner)
    : forwarding_store(std::move(inner)) {}

  std::size_t finished() const {
    return finished_.load();
  }

  /// Roots and rows removed by prune() so far.
  prune_result pruned() const {
    return {pruned_roots_.load(), pruned_rows_.load()};
  }

  prune_result prune(const prune_request& req) override {
    auto out = forwarding_store::prune(req);
    if (!req.dry_run) {
      pruned_roots_ += out.roots;
      pruned_rows_ += out.rows;
    }
    return out;
  }

  std::vector<write_outcome> apply(std::vector<transition> ts) override {
    // A transition may insert rows that are finished already (a finalize
    // task run before its row was stored).
    std::vector<std::size_t> finished_kids(ts.size(), 0);
    for (std::size_t i = 0; i < ts.size(); ++i)
      for (const auto& c : ts[i].children)
        if (c.is_finished())
          ++finished_kids[i];
    auto out = forwarding_store::apply(std::move(ts));
    std::size_t n = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].status != write_status::applied)
        continue;
      n += finished_kids[i];
      if (out[i].current && out[i].current->is_finished())
        ++n;
    }
    finished_ += n;
    return out;
  }

private:
  std::atomic<std::size_t> finished_{0};
  std::atomic<std::size_t> pruned_roots_{0};
  std::atomic<std::size_t> pruned_rows_{0};
};

} // namespace durable::bench
