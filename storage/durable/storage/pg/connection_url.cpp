#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/pg/pg_store.hpp"

/// The connection string helpers declared in pg_store.hpp (resolve_url(),
/// with_keepalives(), redact()): plain string work, no connection.
namespace durable::storage::pg {

std::string resolve_url(const pg_options& opts) {
  if (!opts.url.empty())
    return opts.url;
  if (const char* env = std::getenv("DURABLE_PG_URL"))
    return env;
  return {};
}

std::string with_keepalives(const std::string& url, const pg_options& opts) {
  if (opts.keepalive_idle.count() == 0
      || url.find("keepalives") != std::string::npos)
    return url;
  const auto settings = std::vector<std::pair<const char*, std::int64_t>>{
    {"keepalives", 1},
    {"keepalives_idle", opts.keepalive_idle.count()},
    {"keepalives_interval", opts.keepalive_interval.count()},
    {"keepalives_count", opts.keepalive_count}};
  std::string out = url;
  const bool uri = url.starts_with("postgresql://")
                   || url.starts_with("postgres://");
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [key, value] : settings) {
    if (uri)
      out += fmt::format("{}{}={}", sep, key, value);
    else
      out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, value);
    sep = '&';
  }
  return out;
}

std::string redact(const std::string& url) {
  std::string out = url;
  // URL form: scheme://user:password@host...
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    auto start = scheme + 3;
    auto at = out.find('@', start);
    auto slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)
        out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... as a key/value pair or a URL query parameter.
  for (std::size_t pos = 0;
       (pos = out.find("password=", pos)) != std::string::npos;) {
    auto value = pos + 9;
    auto end = value;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'') {
        if (out[end] == '\\')
          ++end;
        ++end;
      }
      if (end < out.size())
        ++end;
    } else {
      while (end < out.size() && out[end] != ' ' && out[end] != '&')
        ++end;
    }
    out.replace(value, end - value, "***");
    pos = value + 3;
  }
  return out;
}

} // namespace durable::storage::pg
