#include "durable/observer.hpp"

namespace durable {

std::string_view to_string(engine_event::type t) noexcept {
  using type = engine_event::type;
  switch (t) {
    case type::store_failure:
      return "store_failure";
    case type::renewal_failed:
      return "renewal_failed";
    case type::renewal_restored:
      return "renewal_restored";
    case type::lease_lost:
      return "lease_lost";
    case type::leadership:
      return "leadership";
    case type::conflict:
      return "conflict";
    case type::corrupt_row:
      return "corrupt_row";
  }
  return "store_failure";
}

std::string_view to_string(engine_event::severity s) noexcept {
  switch (s) {
    case engine_event::severity::info:
      return "info";
    case engine_event::severity::warning:
      return "warning";
    case engine_event::severity::error:
      return "error";
  }
  return "error";
}

} // namespace durable
