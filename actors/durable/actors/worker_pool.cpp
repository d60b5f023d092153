#include "durable/actors/worker_pool.hpp"

namespace durable::actors {

worker_pool::worker_pool(std::size_t threads) {
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] { run(); });
}

worker_pool::~worker_pool() {
  close();
}

void worker_pool::close() {
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

void worker_pool::submit(std::function<void()> job) {
  {
    std::lock_guard guard{mtx_};
    if (stopping_)
      return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::size_t worker_pool::pending() const {
  std::lock_guard guard{mtx_};
  return jobs_.size() + busy_;
}

void worker_pool::run() {
  std::unique_lock guard{mtx_};
  for (;;) {
    cv_.wait(guard, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty())
      return; // stopping and drained
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    ++busy_;
    guard.unlock();
    job(); // jobs catch their own exceptions
    guard.lock();
    --busy_;
  }
}

} // namespace durable::actors
