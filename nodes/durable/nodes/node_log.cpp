#include "durable/nodes/node_log.hpp"

#include <chrono>
#include <cstdio>

#include <fmt/chrono.h>

namespace durable::nodes {

void node_log::write(std::string_view level, const std::string& msg) const {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
    std::chrono::system_clock::now());
  auto line = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z {} node={} incarnation={} "
                          "{}\n",
                          now, level, node_, incarnation_, msg);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace durable::nodes
