#pragma once

#include <memory>
#include <string>

#include "durable/store.hpp"

namespace durable::test {

/// A fresh, empty store of the backend this test executable was built for
/// (the compile definition DURABLE_TEST_STORE: memory, sqlite or pg). The
/// engine's integration suite is compiled once per backend with it.
///
/// Each call returns an independent store: a new in-memory store, a new
/// SQLite file in a temporary folder, or a new PostgreSQL schema. A backend
/// that cannot be reached fails the test; it never skips.
std::shared_ptr<durable::store> make_store();

/// The backend's name, for messages.
std::string store_name();

} // namespace durable::test
