#include "durable/actors/worker_pool.hpp"

#include <algorithm>
#include <system_error>

#include "durable/assert.hpp"

namespace durable::actors {

worker_pool::worker_pool(std::size_t max_threads, duration idle_timeout)
  : max_threads_(max_threads), idle_timeout_(idle_timeout) {
  DURABLE_ASSERT(max_threads > 0, "a worker pool needs a thread");
}

worker_pool::~worker_pool() {
  close();
}

void worker_pool::close() {
  std::vector<std::thread> all;
  {
    std::lock_guard guard{mtx_};
    stopping_ = true;
  }
  cv_.notify_all();
  // No thread starts once stopping_ is set, so this sees every one.
  {
    std::lock_guard guard{mtx_};
    all.swap(threads_);
    exited_.clear();
  }
  for (auto& t : all)
    if (t.joinable())
      t.join();
}

void worker_pool::submit(std::function<void()> job) {
  reap();
  bool start = false;
  {
    std::lock_guard guard{mtx_};
    if (stopping_)
      return;
    jobs_.push_back(std::move(job));
    // Free threads are live ones not running a job; each takes one queued
    // job, so a thread is missing when the queue outgrows them.
    if (jobs_.size() > live_ - busy_ && live_ < max_threads_) {
      try {
        threads_.emplace_back([this] { run(); });
        ++live_;
        start = true;
      } catch (const std::system_error&) {
        if (live_ == 0) {
          jobs_.pop_back();
          throw;
        }
      }
    }
  }
  if (!start)
    cv_.notify_one();
}

std::size_t worker_pool::pending() const {
  std::lock_guard guard{mtx_};
  return jobs_.size() + busy_;
}

std::size_t worker_pool::threads() const {
  std::lock_guard guard{mtx_};
  return live_;
}

void worker_pool::reap() {
  std::vector<std::thread> done;
  {
    std::lock_guard guard{mtx_};
    if (exited_.empty())
      return;
    for (auto id : exited_) {
      auto i = std::find_if(threads_.begin(), threads_.end(),
                            [id](const std::thread& t) {
                              return t.get_id() == id;
                            });
      DURABLE_ASSERT(i != threads_.end(),
                     "an exited worker was joined already");
      done.push_back(std::move(*i));
      threads_.erase(i);
    }
    exited_.clear();
  }
  // An exited thread has left run() and holds nothing: joining is quick.
  for (auto& t : done)
    t.join();
}

void worker_pool::run() {
  std::unique_lock guard{mtx_};
  for (;;) {
    if (!cv_.wait_for(guard, idle_timeout_,
                      [this] { return stopping_ || !jobs_.empty(); })) {
      // Idle for idle_timeout_: leave, and let the next submit() join us.
      --live_;
      exited_.push_back(std::this_thread::get_id());
      return;
    }
    if (jobs_.empty()) {
      --live_;
      return; // stopping and drained; close() joins
    }
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
