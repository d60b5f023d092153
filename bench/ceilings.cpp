#include "ceilings.hpp"

#include <thread>

namespace durable::bench {

ceiling_result measure_ceiling(const settings& s, const store_place& place,
                               std::size_t executions) {
  if (place.kind() == "postgres")
    return pg_ceiling(place.pg_url(), place.pg_schema() + "_ceiling",
                      executions, s.batch, s.claim_batch);
  if (place.kind() == "sqlite")
    return sqlite_ceiling(place.sqlite_path() + "-ceiling",
                          place.sqlite_normal_sync(), executions, s.batch,
                          s.claim_batch);
  auto threads = s.scheduler_threads;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  return caf_ceiling(executions, s.caf_window, threads);
}

} // namespace durable::bench
