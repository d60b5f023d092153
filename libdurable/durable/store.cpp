#include "durable/store.hpp"

namespace durable {

std::string_view to_string(store_failure f) noexcept {
  switch (f) {
    case store_failure::conflict:
      return "conflict";
    case store_failure::unavailable:
      return "unavailable";
    case store_failure::in_doubt:
      return "in doubt";
    case store_failure::corrupt:
      return "corrupt";
    case store_failure::fatal:
      return "fatal";
  }
  return "fatal";
}

store_error::store_error(store_failure failure, std::string message)
  : error(std::move(message),
          failure == store_failure::conflict
            || failure == store_failure::unavailable,
          true),
    failure_(failure) {}

std::optional<store_failure> failure_of(const std::exception& e) noexcept {
  if (const auto* se = dynamic_cast<const store_error*>(&e))
    return se->failure();
  return std::nullopt;
}

store::~store() = default;

} // namespace durable
