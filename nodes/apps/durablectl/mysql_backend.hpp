#pragma once

#include <memory>
#include <string>

#include "durablectl/backend.hpp"

namespace durablectl {

/// Commands straight against a MySQL/MariaDB database (`--mysql URL`, or
/// `DURABLE_MYSQL_URL`): show, tree, list, cancel, stats, prune and
/// migrate. Only in a build with the MySQL store (DURABLE_WITH_MYSQL).
///
/// The MySQL store migrates whenever it opens, so every command on it
/// applies missing migrations, as a node's start does; `migrate` reports
/// the version the database is at afterwards.
std::unique_ptr<backend> make_mysql_backend(const std::string& url);

} // namespace durablectl
