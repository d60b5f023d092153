#include "durable/nodes/http/message.hpp"

#include <algorithm>
#include <cctype>

namespace durable::nodes::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

} // namespace

std::optional<std::string_view> request::header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (iequals(key, name))
      return std::string_view{value};
  return std::nullopt;
}

std::size_t request::header_count(std::string_view name) const {
  return static_cast<std::size_t>(
    std::count_if(headers.begin(), headers.end(), [&](const auto& field) {
      return iequals(field.first, name);
    }));
}

} // namespace durable::nodes::http
