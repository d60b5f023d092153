#include "durable/nodes/gateway.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <fmt/format.h>

namespace durable::nodes {

struct gateway::impl {
  caf::actor_system* sys = nullptr;
  actors::executor_actor actor;
  std::string address;
  std::uint16_t port = 0;
};

gateway::gateway(executor& exec, const gateway_options& opts)
  : impl_(std::make_unique<impl>()) {
  if (!is_loopback_address(opts.bind_address))
    throw error::non_retryable(fmt::format(
      "Invalid gateway address {}: the gateway binds to loopback addresses "
      "only, because CAF 0.17's network layer has no authentication",
      opts.bind_address));
  auto& sys = exec.system();
  if (!sys.has_middleman())
    throw error::non_retryable(
      "Invalid gateway setup: the executor's actor system has no middleman "
      "(prepare its configuration with durable::nodes::"
      "prepare_network_config)");
  if (exec.is_shut_down() || !exec.actor())
    throw error::non_retryable("Durable executor shutdown");
  auto bound = sys.middleman().publish(
    exec.actor(), opts.port, opts.bind_address.c_str(), opts.reuse_address);
  if (!bound)
    throw error::non_retryable(
      fmt::format("Cannot publish the gateway on {}:{}: {}", opts.bind_address,
                  opts.port, sys.render(bound.error())));
  impl_->sys = &sys;
  impl_->actor = exec.actor();
  impl_->address = opts.bind_address;
  impl_->port = *bound;
}

gateway::~gateway() {
  close();
}

gateway::gateway(gateway&&) noexcept = default;
gateway& gateway::operator=(gateway&&) noexcept = default;

std::uint16_t gateway::port() const noexcept {
  return impl_ ? impl_->port : 0;
}

const std::string& gateway::address() const noexcept {
  static const std::string none;
  return impl_ ? impl_->address : none;
}

void gateway::close() {
  if (!impl_ || !impl_->actor)
    return;
  // Errors mean the port is closed already (the middleman stopped).
  static_cast<void>(
    impl_->sys->middleman().unpublish(impl_->actor, impl_->port));
  impl_->actor = nullptr;
}

gateway publish_gateway(executor& exec, const gateway_options& opts) {
  return gateway{exec, opts};
}

} // namespace durable::nodes
