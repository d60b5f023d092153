#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace durable::actors {

/// A fixed set of threads that run blocking task bodies, so that no body
/// ever blocks one of CAF's scheduler threads.
///
/// Threading: submit() is safe from any thread. Jobs run in submission
/// order on whichever thread is free. The destructor runs every job already
/// submitted, then joins: a body that never returns blocks it, so bodies
/// must honour their stop tokens.
class worker_pool {
public:
  explicit worker_pool(std::size_t threads);
  ~worker_pool();

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Queues a job; after close() the job is dropped.
  void submit(std::function<void()> job);

  /// Runs the jobs already queued, then joins every thread. Idempotent.
  void close();

  /// Jobs submitted and not yet finished.
  std::size_t pending() const;

private:
  void run();

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace durable::actors
