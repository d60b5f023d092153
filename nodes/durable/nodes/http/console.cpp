#include "durable/nodes/http/console.hpp"

#include <string>
#include <string_view>

#include "durable/nodes/http/api_error.hpp"
#include "durable/nodes/http/console_assets.hpp"

namespace durable::nodes::http {

namespace {

constexpr std::string_view prefix = "/ui/";

void secure(response& res) {
  res.set_header("Content-Security-Policy", std::string{console_csp});
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-cache");
}

response redirect() {
  response res;
  res.status = 302;
  res.set_header("Location", std::string{prefix});
  secure(res);
  return res;
}

response error(int status, std::string_view kind, std::string_view message) {
  response res;
  res.status = status;
  res.body = error_body(kind, message);
  secure(res);
  return res;
}

/// Whether an `If-None-Match` value names `etag`: `*`, or one of its
/// comma-separated tags (weak ones compared weakly, as RFC 9110 says for
/// this header).
bool matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    auto tag = header.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t'))
      tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t'))
      tag.remove_suffix(1);
    if (tag.starts_with("W/"))
      tag.remove_prefix(2);
    if (tag == "*" || tag == etag)
      return true;
    if (comma == std::string_view::npos)
      break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace

std::optional<response> console_response(const request& req) {
  std::string_view path{req.target};
  path = path.substr(0, path.find('?'));
  const bool read = req.method == "GET" || req.method == "HEAD";
  if (path == "/" || path == "/ui") {
    if (!read)
      return std::nullopt; // the API's 404 or 405, after its token check
    return redirect();
  }
  if (!path.starts_with(prefix))
    return std::nullopt;
  if (!read) {
    auto res = error(405, kind_method_not_allowed,
                     "The console answers GET and HEAD only");
    res.set_header("Allow", "GET, HEAD");
    return res;
  }
  auto name = path.substr(prefix.size());
  if (name.empty())
    name = "index.html";
  auto asset = find_console_asset(name);
  if (!asset)
    return error(404, kind_not_found, "No console file " + std::string{path});
  response res;
  secure(res);
  res.set_header("ETag", std::string{asset->etag});
  if (auto tags = req.header("If-None-Match");
      tags && matches(*tags, asset->etag)) {
    res.status = 304;
    return res;
  }
  res.status = 200;
  res.set_header("Content-Type", std::string{asset->content_type});
  res.body = std::string{asset->body};
  return res;
}

} // namespace durable::nodes::http
