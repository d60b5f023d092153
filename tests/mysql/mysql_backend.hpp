#pragma once

#include <functional>
#include <memory>

#include <doctest/doctest.h>

#include "support/mysql_fixture.hpp"

/// The MySQL/MariaDB backend of the storage conformance suite: every case
/// gets a store on its own fresh database, dropped afterwards, driven by
/// the case's fake clock.
namespace durable::test::conformance {

struct mysql_backend {
  static std::shared_ptr<durable::store>
  make(std::function<timestamp()> clock) {
    return durable::test::mysql::make_store(std::move(clock));
  }
};

} // namespace durable::test::conformance

TYPE_TO_STRING_AS("mysql", durable::test::conformance::mysql_backend);
