#include "durable/nodes/http/api_error.hpp"

#include <nlohmann/json.hpp>

namespace durable::nodes::http {

api_error to_api_error(const durable::error& e) {
  if (e.kind() == error_kind::not_found)
    return {404, kind_not_found, e.what()};
  if (e.is_internal())
    return {500, kind_internal, e.what()};
  return {400, kind_bad_request, e.what()};
}

std::string error_body(std::string_view kind, std::string_view message) {
  nlohmann::json j{
    {"error",
     {{"kind", std::string{kind}}, {"message", std::string{message}}}}};
  // Replace invalid UTF-8 instead of throwing: messages may quote input.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace durable::nodes::http
