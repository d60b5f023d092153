#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "durable/observer.hpp"

/// One-line logs of a node process on stderr:
/// `2026-11-26T10:00:00.123Z info node=a incarnation=de_… started …`.
/// Every line names the node and its incarnation, so that the lines of a
/// restarted node are told apart from its predecessor's.
///
/// The engine's events (executor_options::observer) are lines too:
/// `… warning node=a incarnation=de_… renewal_failed operation=renew_leases
/// failure=unavailable lease renewal failed (1 in a row): …`.
///
/// Threading: safe from any thread (one write per line). Never logs secrets:
/// callers pass redacted URLs.
namespace durable::nodes {

class node_log {
public:
  node_log(std::string node, std::string incarnation)
    : node_(std::move(node)), incarnation_(std::move(incarnation)) {}

  /// May be called while other threads log (the engine starts before the
  /// incarnation is known to the caller).
  void set_incarnation(std::string incarnation);

  template <class... Ts>
  void info(fmt::format_string<Ts...> f, Ts&&... xs) const {
    write("info", fmt::format(f, std::forward<Ts>(xs)...));
  }

  template <class... Ts>
  void error(fmt::format_string<Ts...> f, Ts&&... xs) const {
    write("error", fmt::format(f, std::forward<Ts>(xs)...));
  }

  /// One line for an event of the engine, at its severity.
  void event(const engine_event& e) const;

private:
  void write(std::string_view level, const std::string& msg) const;

  std::string node_;
  mutable std::mutex mutex_;
  std::string incarnation_;
};

} // namespace durable::nodes
