#include "durable/nodes/http/auth.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <cstring>

namespace durable::nodes::http {

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is looked at; the result folds in the
  // length difference, so an early mismatch costs as much as a late one.
  const auto n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool is_loopback_address(std::string_view address) {
  if (address == "localhost")
    return true;
  std::string text{address};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1)
    return std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
  return false;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size())
    return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i])
      return std::nullopt;
  auto token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  if (token.empty())
    return std::nullopt;
  return token;
}

} // namespace durable::nodes::http
