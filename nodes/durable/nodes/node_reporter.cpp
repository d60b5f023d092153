#include "durable/nodes/node_reporter.hpp"

#include <exception>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace durable::nodes {

node_reporter::node_reporter(std::shared_ptr<store> db, source src,
                             std::function<void(std::string_view)> on_failure,
                             std::chrono::milliseconds interval)
  : db_(std::move(db)),
    src_(std::move(src)),
    on_failure_(std::move(on_failure)),
    interval_(interval) {
  report();
  thread_ = std::thread{[this] { loop(); }};
}

node_reporter::~node_reporter() {
  stop();
}

void node_reporter::set_state(node_state s) {
  state_.store(s);
}

void node_reporter::stop() {
  {
    std::lock_guard guard{mtx_};
    if (stopped_)
      return;
    stopped_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  state_.store(node_state::stopped);
  report();
}

void node_reporter::loop() {
  std::unique_lock guard{mtx_};
  while (!cv_.wait_for(guard, interval_, [this] { return stopping_; })) {
    guard.unlock();
    report();
    guard.lock();
  }
}

void node_reporter::report() {
  try {
    node_report r;
    r.node = src_.describe();
    r.node.state = state_.load();
    const auto total = src_.finished_total();
    for (const auto& [status, n] : total) {
      auto before = reported_.find(status);
      const auto done = before == reported_.end() ? 0 : before->second;
      if (n > done)
        r.finished[status] = n - done;
    }
    db_->report_node(r);
    reported_ = total;
  } catch (const std::exception& e) {
    on_failure_(
      fmt::format("cannot report this node to the registry: {}", e.what()));
  } catch (...) {
    on_failure_("cannot report this node to the registry: unknown failure");
  }
}

} // namespace durable::nodes
