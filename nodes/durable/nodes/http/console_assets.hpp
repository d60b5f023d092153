#pragma once

#include <optional>
#include <string_view>

/// The web console's files (nodes/ui/), compiled into the binary by
/// cmake/DurableEmbed.cmake: a node serves them without reading the disk,
/// and a build that changes one rebuilds them.
namespace durable::nodes::http {

/// One file of the console. Every view points into static storage: valid
/// for the life of the program.
struct console_asset {
  /// The file's path under nodes/ui/ ("index.html", "views/list.js").
  std::string_view path;
  /// The file's bytes, as committed.
  std::string_view body;
  /// Its Content-Type, from its extension ("text/javascript; charset=utf-8").
  std::string_view content_type;
  /// A strong entity tag of its content, quoted ("\"1f2e…\""): the first
  /// 16 hex digits of its SHA-256.
  std::string_view etag;
};

/// The file at `path` (relative to nodes/ui/, no leading slash); nullopt
/// when there is none. Exact match only: no `..`, no directory listing.
std::optional<console_asset> find_console_asset(std::string_view path);

} // namespace durable::nodes::http
