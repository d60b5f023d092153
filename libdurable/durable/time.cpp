#include "durable/time.hpp"

namespace durable {

timestamp system_now() noexcept {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
    std::chrono::system_clock::now());
}

} // namespace durable
