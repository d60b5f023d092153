#pragma once

// The SQLite backend of the storage conformance suite: each case gets a new
// database file in a new temporary directory (see backends.hpp for how the
// suite picks its backends).

#include <functional>
#include <memory>
#include <utility>

#include <doctest/doctest.h>

#include "durable/storage/sqlite_store.hpp"
#include "durable/store.hpp"
#include "support/temp_dir.hpp"

namespace durable::test::conformance {

/// A SQLite store in a fresh file, on the given clock, with the default
/// options otherwise (WAL, synchronous FULL).
struct sqlite_backend {
  static std::shared_ptr<durable::store>
  make(std::function<timestamp()> clock) {
    storage::sqlite_options opts;
    opts.clock = std::move(clock);
    return storage::sqlite(make_temp_dir("durable-conformance-") + "/store.db",
                           std::move(opts));
  }
};

} // namespace durable::test::conformance

TYPE_TO_STRING_AS("sqlite", durable::test::conformance::sqlite_backend);
