#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "durable/forwarding_store.hpp"

namespace durable::test {

/// A store whose apply() calls wait, once hold() is called, until open()
/// (or a long guard): a commit that takes as long as a test wants.
class held_applies final : public forwarding_store {
public:
  using forwarding_store::forwarding_store;

  ~held_applies() override {
    open();
  }

  std::vector<write_outcome> apply(std::vector<transition> ts) override {
    {
      std::unique_lock lock{mtx_};
      if (holding_) {
        ++held_;
        changed_.notify_all();
        changed_.wait_for(lock, std::chrono::seconds{60},
                          [this] { return !holding_; });
        --held_;
      }
    }
    return forwarding_store::apply(std::move(ts));
  }

  void hold() {
    std::lock_guard lock{mtx_};
    holding_ = true;
  }

  void open() {
    {
      std::lock_guard lock{mtx_};
      holding_ = false;
    }
    changed_.notify_all();
  }

  /// apply() calls waiting now.
  int held() {
    std::lock_guard lock{mtx_};
    return held_;
  }

private:
  std::mutex mtx_;
  std::condition_variable changed_;
  bool holding_ = false;
  int held_ = 0;
};

} // namespace durable::test
