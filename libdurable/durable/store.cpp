#include "durable/store.hpp"

namespace durable {

store::~store() = default;

} // namespace durable
