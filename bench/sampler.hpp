#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

/// Counters read at a fixed period during a run: the PostgreSQL server's
/// (pg_trend.hpp) and the rows a node finished (a run with retention,
/// whose oldest rows are gone before they can be read back).
namespace durable::bench {

/// Reads counters now and then every `period` on a thread of its own,
/// until finish(). Each reading gets `t_s`, the seconds since the first.
///
/// Threading: `read` runs on the sampler's thread and must lock whatever
/// it shares with the caller. finish() from the constructing thread.
class sampler {
public:
  sampler(std::function<nlohmann::json()> read,
          std::chrono::milliseconds period);
  ~sampler();

  sampler(const sampler&) = delete;
  sampler& operator=(const sampler&) = delete;

  /// Takes a last reading, stops the thread and returns every reading in
  /// order. A reading that threw is skipped (the run goes on).
  std::vector<nlohmann::json> finish();

private:
  void take(std::chrono::steady_clock::time_point t0);

  std::function<nlohmann::json()> read_;
  std::chrono::milliseconds period_;
  std::mutex mtx_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<nlohmann::json> readings_;
  std::thread thread_;
};

} // namespace durable::bench
