#include "durable/nodes/network_config.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include "durable/actors/wire_types.hpp"

namespace durable::nodes {

void prepare_network_config(caf::actor_system_config& cfg,
                            const network_options& opts) {
  cfg.load<caf::io::middleman>();
  actors::register_wire_types(cfg);
  cfg.set("middleman.heartbeat-interval",
          caf::timespan{opts.heartbeat_interval});
  cfg.set("middleman.connection-timeout",
          caf::timespan{opts.connection_timeout});
}

} // namespace durable::nodes
