#include "durable/nodes/node_log.hpp"

#include <chrono>
#include <cstdio>

#include <fmt/chrono.h>

namespace durable::nodes {

void node_log::set_incarnation(std::string incarnation) {
  std::lock_guard guard{mutex_};
  incarnation_ = std::move(incarnation);
}

void node_log::event(const engine_event& e) const {
  auto msg = std::string{to_string(e.kind)};
  if (!e.operation.empty())
    msg += fmt::format(" operation={}", e.operation);
  if (e.failure)
    msg += fmt::format(" failure=\"{}\"", to_string(*e.failure));
  if (!e.execution_id.empty())
    msg += fmt::format(" execution={}", e.execution_id);
  msg += ' ';
  msg += e.message;
  write(to_string(e.level), msg);
}

void node_log::write(std::string_view level, const std::string& msg) const {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
    std::chrono::system_clock::now());
  std::string incarnation;
  {
    std::lock_guard guard{mutex_};
    incarnation = incarnation_;
  }
  auto line = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z {} node={} incarnation={} "
                          "{}\n",
                          now, level, node_, incarnation, msg);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace durable::nodes
