#include "durable/nodes/http/url.hpp"

#include <fmt/format.h>

#include "durable/nodes/http/api_error.hpp"
#include "durable/utf8.hpp"

namespace durable::nodes::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Decodes `s` and refuses it unless it is storable text.
std::string storable(std::string_view s, bool plus_is_space,
                     std::string_view what) {
  auto out = percent_decode(s, plus_is_space, what);
  if (auto why = utf8::problem(what, out))
    throw api_error::bad_request(std::move(*why));
  return out;
}

} // namespace

std::string percent_decode(std::string_view s, bool plus_is_space,
                           std::string_view what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
      if (lo < 0)
        throw api_error::bad_request(fmt::format(
          "{} has a malformed percent-encoding [offset={}]", what, i));
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void decode_target(request& req) {
  std::string_view target = req.target;
  if (target.size() > max_target_bytes)
    throw api_error{414, kind_uri_too_long,
                    fmt::format("The request target exceeds {} bytes",
                                max_target_bytes)};
  if (target.empty() || target.front() != '/')
    throw api_error::bad_request(
      "The request target must be a path starting with /");
  const auto q = target.find('?');
  req.path = storable(target.substr(0, q), false, "The request path");
  req.params.clear();
  if (q == std::string_view::npos)
    return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{}
                                         : rest.substr(amp + 1);
    if (pair.empty())
      continue;
    const auto eq = pair.find('=');
    auto name = storable(pair.substr(0, eq), true, "A query parameter name");
    auto value = eq == std::string_view::npos
                   ? std::string{}
                   : storable(pair.substr(eq + 1), true,
                              fmt::format("Query parameter {}", name));
    req.params.emplace(std::move(name), std::move(value));
  }
}

} // namespace durable::nodes::http
