#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace durable::actors {

/// The threads that run blocking task bodies, so that no body ever blocks
/// one of CAF's scheduler threads.
///
/// The pool grows on demand: it starts with no thread, and submit() starts
/// one whenever a job is queued while every live thread is busy and fewer
/// than `max_threads` live. A thread that has found no job for
/// `idle_timeout` exits. An idle node therefore holds no worker thread at
/// all, and a busy one holds as many as its bodies need, at most
/// `max_threads` (docs/design.md, "An idle node sleeps").
///
/// Threading: submit(), threads() and pending() are safe from any thread.
/// Jobs run in submission order on whichever thread is free. close() and
/// the destructor run every job already submitted, then join: a body that
/// never returns blocks them, so bodies must honour their stop tokens.
///
/// Errors: a thread that cannot be started (std::system_error from the OS)
/// leaves the job queued for the threads that live; with none alive,
/// submit() throws and the job is not queued.
class worker_pool {
public:
  using duration = std::chrono::steady_clock::duration;

  /// @pre `max_threads > 0`.
  explicit worker_pool(std::size_t max_threads,
                       duration idle_timeout = std::chrono::seconds{30});
  ~worker_pool();

  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  /// Queues a job, starting a thread for it if none is free; after close()
  /// the job is dropped.
  void submit(std::function<void()> job);

  /// Runs the jobs already queued, then joins every thread. Idempotent.
  void close();

  /// Jobs submitted and not yet finished.
  std::size_t pending() const;

  /// Threads alive now (running a job or waiting for one).
  std::size_t threads() const;

  std::size_t max_threads() const noexcept {
    return max_threads_;
  }

private:
  void run();

  /// Joins the threads that have exited. Called with `mtx_` not held.
  void reap();

  const std::size_t max_threads_;
  const duration idle_timeout_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::size_t live_ = 0;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  /// Every thread started and not joined yet, live or exited.
  std::vector<std::thread> threads_;
  /// Ids of threads that returned from run(), to be joined by reap().
  std::vector<std::thread::id> exited_;
};

} // namespace durable::actors
