#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "durable/actors/executor.hpp"
#include "durable/nodes/gateway.hpp"
#include "durable/nodes/network_config.hpp"
#include "durable/storage/memory_store.hpp"

namespace durable::test {

/// A node as a gateway test needs it: an actor system prepared for the
/// network, an executor on the memory store with a few tasks, and its
/// gateway published on an ephemeral loopback port.
///
/// Tasks: `add_one` (int -> int), `fail_once_then` (int -> int, throws a
/// non-retryable error for negative inputs) and `approval` (a sleeping task
/// with a bool output and a one-hour deadline).
class gateway_node {
public:
  gateway_node() {
    nodes::prepare_network_config(cfg_);
    cfg_.set("scheduler.max-threads", 2);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    executor_options opts;
    opts.worker_threads = 4;
    exec_ = std::make_unique<executor>(*sys_, storage::memory(), opts);
    add_one = exec_->task<int, int>({.id = "add_one",
                                     .timeout = std::chrono::seconds{30}},
                                    [](task_context&, int x) { return x + 1; });
    checked = exec_->task<int, int>(
      {.id = "checked", .timeout = std::chrono::seconds{30}},
      [](task_context&, int x) {
        if (x < 0)
          throw error::non_retryable("negative input");
        return x;
      });
    approval = exec_->sleeping_task<bool>(
      {.id = "approval", .timeout = std::chrono::hours{1}});
    gateway_.emplace(nodes::publish_gateway(*exec_));
  }

  ~gateway_node() {
    // The gateway and the executor's actors before the actor system.
    gateway_.reset();
    exec_.reset();
    sys_.reset();
  }

  gateway_node(const gateway_node&) = delete;
  gateway_node& operator=(const gateway_node&) = delete;

  executor& exec() noexcept {
    return *exec_;
  }

  caf::actor_system& system() noexcept {
    return *sys_;
  }

  std::uint16_t port() const noexcept {
    return gateway_->port();
  }

  nodes::gateway& gateway() noexcept {
    return *gateway_;
  }

  task_ref<int, int> add_one;
  task_ref<int, int> checked;
  task_ref<std::string, bool> approval;

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<executor> exec_;
  std::optional<nodes::gateway> gateway_;
};

} // namespace durable::test
