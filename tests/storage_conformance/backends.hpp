#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <doctest/doctest.h>

#include "durable/storage/memory_store.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// The backends the conformance cases run against in this executable. The
/// unit tier runs the memory store; an executable for another backend
/// defines `DURABLE_CONFORMANCE_BACKENDS` (a comma-separated list of tag
/// types) and `DURABLE_CONFORMANCE_EXTRA_HEADER` (a quoted header declaring
/// them, with their TYPE_TO_STRING_AS) on its command line.
namespace durable::test::conformance {

/// The in-memory store.
struct memory_backend {
  static std::shared_ptr<durable::store>
  make(std::function<timestamp()> clock) {
    return std::make_shared<storage::memory_store>(std::move(clock));
  }
};

} // namespace durable::test::conformance

TYPE_TO_STRING_AS("memory", durable::test::conformance::memory_backend);

#ifdef DURABLE_CONFORMANCE_EXTRA_HEADER
#include DURABLE_CONFORMANCE_EXTRA_HEADER
#endif

#ifndef DURABLE_CONFORMANCE_BACKENDS
#define DURABLE_CONFORMANCE_BACKENDS \
  ::durable::test::conformance::memory_backend
#endif
