#pragma once

#include <memory>
#include <string>

#include "durable/store.hpp"

namespace durable::test {

/// A fresh, empty store of the backend this test executable links: memory,
/// sqlite or pg, one definition per support/store_factory_<backend>.cpp.
/// The engine's integration suite is compiled once and linked with each of
/// them (tests/CMakeLists.txt); a test that depends on the backend asks
/// store_name() at run time, never a compile definition.
///
/// Each call returns an independent store: a new in-memory store, a new
/// SQLite file in a temporary folder, or a new PostgreSQL schema. A backend
/// that cannot be reached fails the test; it never skips.
std::shared_ptr<durable::store> make_store();

/// The backend's name, for messages.
std::string store_name();

} // namespace durable::test
