#pragma once

#include <functional>
#include <memory>

#include <doctest/doctest.h>

#include "support/pg_fixture.hpp"

/// The PostgreSQL backend of the storage conformance suite: every case gets
/// a store on its own fresh schema, dropped afterwards, driven by the case's
/// fake clock.
namespace durable::test::conformance {

struct pg_backend {
  static std::shared_ptr<durable::store>
  make(std::function<timestamp()> clock) {
    return durable::test::pg::make_store(std::move(clock), 3);
  }
};

} // namespace durable::test::conformance

TYPE_TO_STRING_AS("pg", durable::test::conformance::pg_backend);
