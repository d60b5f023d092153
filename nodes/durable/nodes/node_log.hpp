#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

/// One-line logs of a node process on stderr:
/// `2026-11-26T10:00:00.123Z info node=a incarnation=de_… started …`.
/// Every line names the node and its incarnation, so that the lines of a
/// restarted node are told apart from its predecessor's.
///
/// Threading: safe from any thread (one write per line). Never logs secrets:
/// callers pass redacted URLs.
namespace durable::nodes {

class node_log {
public:
  node_log(std::string node, std::string incarnation)
    : node_(std::move(node)), incarnation_(std::move(incarnation)) {
  }

  void set_incarnation(std::string incarnation) {
    incarnation_ = std::move(incarnation);
  }

  template <class... Ts>
  void info(fmt::format_string<Ts...> f, Ts&&... xs) const {
    write("info", fmt::format(f, std::forward<Ts>(xs)...));
  }

  template <class... Ts>
  void error(fmt::format_string<Ts...> f, Ts&&... xs) const {
    write("error", fmt::format(f, std::forward<Ts>(xs)...));
  }

private:
  void write(std::string_view level, const std::string& msg) const;

  std::string node_;
  std::string incarnation_;
};

} // namespace durable::nodes
