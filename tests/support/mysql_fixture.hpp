#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "durable/storage/mysql_store.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// Stores on the MySQL/MariaDB server that `DURABLE_MYSQL_URL` names
/// (scripts/mysql-start.sh starts one and prints it). A case FAILs, never
/// skips, when the variable is unset or the server cannot be reached.
namespace durable::test::mysql {

/// `DURABLE_MYSQL_URL`; FAILs the case when it is unset.
std::string url();

/// A database name no other case or process uses.
std::string unique_database();

/// `url()` with its database replaced by `database`.
std::string url_for(const std::string& database);

/// Options for a store on `database` (created if missing).
durable::storage::mysql_options options(const std::string& database);

/// A store on a fresh database of its own, dropped when the store is.
std::shared_ptr<durable::store>
make_store(std::function<timestamp()> clock = {});

/// Runs `sql` on the server, outside any store (FAILs on an error).
void exec_admin(const std::string& sql);

} // namespace durable::test::mysql
