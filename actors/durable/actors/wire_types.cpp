#include "durable/actors/wire_types.hpp"

#include <caf/actor_system_config.hpp>

#include "durable/actors/wire.hpp"
#include "durable/actors/wire_errors.hpp"

namespace durable::actors {

void register_wire_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<enqueue_options>("durable::enqueue_options");
  cfg.add_message_type<execution_record>("durable::execution_record");
  cfg.add_message_type<wake_request>("durable::actors::wake_request");
  cfg.add_message_type<wait_reply>("durable::actors::wait_reply");
  cfg.add_error_category(error_category, render_durable_error);
}

} // namespace durable::actors
